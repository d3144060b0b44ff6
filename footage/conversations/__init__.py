"""Conversations: chat between a site's visitors and the account's agents, linked to recordings."""
