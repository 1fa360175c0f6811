"""Job specs, runners and results."""
