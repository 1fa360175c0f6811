"""``moc``: the command-line client of the control plane (``moc.cli``; ``moc.assets`` reads INPUT/OUTPUT)."""
