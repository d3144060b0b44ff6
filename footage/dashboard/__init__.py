"""The dashboard: server-rendered HTML pages for site owners."""
