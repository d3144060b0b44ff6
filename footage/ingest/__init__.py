"""Ingest: decode and validate recorder batches, check the site, store each batch once."""
