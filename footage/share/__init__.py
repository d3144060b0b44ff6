"""Share links: a recording anyone with the link can play, without login, until the link
expires, is revoked, or the recording is deleted."""
