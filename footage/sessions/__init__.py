"""Sessions: the recording lifecycle (live → ready) and the summary computed at finalize."""
