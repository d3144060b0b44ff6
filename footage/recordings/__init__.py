"""Recordings: listing, one recording, its events for the player."""
