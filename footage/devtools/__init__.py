"""Tools for developers and benchmarks: `footage dev seed` fills a database with realistic,
ready recordings (rows only, no recorded events) so that lists and filters can be tried and
measured at scale."""
