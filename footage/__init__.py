"""Footage: self-hostable website visitor recordings."""

__version__ = "0.1.0"
