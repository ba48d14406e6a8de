"""The `stellwerk` command line."""
