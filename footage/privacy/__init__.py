"""Privacy: what each site records, masking (browser and server), erasure."""
