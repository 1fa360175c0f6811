"""``modelop-spark`` subcommands, one module each; ``cli.py`` registers them."""
