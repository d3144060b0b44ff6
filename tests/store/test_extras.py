"""A feature whose optional dependency is not installed says which extra to install (the
wheel's base install leaves out PostgreSQL's driver, S3's client and MP4's Playwright)."""

from __future__ import annotations

import sys

import pytest

from footage.downloads.render import VideoUnavailable, check_tools
from footage.errors import MissingExtra
from footage.store.blobs import S3BlobStore
from footage.store.db import normalize_url


def test_s3_without_its_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` fails as if not installed
    with pytest.raises(MissingExtra, match=r"pip install 'footage\[s3\]'"):
        S3BlobStore("s3://bucket/prefix")


def test_postgresql_without_its_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)
    with pytest.raises(MissingExtra, match=r"pip install 'footage\[postgresql\]'"):
        normalize_url("postgresql://footage@localhost/footage")
    assert normalize_url("sqlite:///footage.db") == "sqlite:///footage.db"  # needs nothing


def test_mp4_without_its_extra_names_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "playwright.sync_api", None)
    with pytest.raises(VideoUnavailable, match=r"pip install 'footage\[video\]'"):
        check_tools()
