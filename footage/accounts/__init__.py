"""Accounts, users, API tokens, sites and plans."""
