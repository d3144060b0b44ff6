"""A small demo shop served by Footage itself, with the snippet installed."""
