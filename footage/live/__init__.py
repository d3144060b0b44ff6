"""Watching a visitor live: their current page and every change, while they are on the site."""
