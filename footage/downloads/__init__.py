"""Downloads of a recording: a self-contained HTML player, the rrweb events (JSON), and a video
(MP4) rendered by a background job."""
