"""Blob-store tests use the S3 fixtures of tests/conftest.py."""

from tests.conftest import make_bucket

__all__ = ["make_bucket"]
