"""Blob store for recording chunks: keys map to immutable byte strings.

A chunk is addressed by (blob key, offset, length), so a store that holds many chunks in one
object and a store with one object per chunk are read the same way (local files now;
S3-compatible storage answers ranged reads the same way).
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from footage.errors import MissingExtra

_KEY = re.compile(r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*$")


class BlobStore(Protocol):
    def put(self, key: str, data: bytes) -> None: ...
    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes: ...
    def delete(self, key: str) -> None: ...
    def exists(self, key: str) -> bool: ...


class LocalBlobStore:
    """Blobs as files under one folder; writes are atomic (temp file + rename) and fsynced."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"invalid blob key: {key!r}")
        return self.root / key

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        """Bytes [offset, offset+length) of a blob; FileNotFoundError if it does not exist."""
        with open(self._path(key), "rb") as f:
            f.seek(offset)
            return f.read() if length is None else f.read(length)

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()


class S3BlobStore:
    """Blobs as objects in an S3-compatible bucket (AWS S3, MinIO, R2, Ceph …).

    Endpoint, region and credentials come from the usual AWS_* environment variables
    (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), as every AWS
    tool reads them. A PUT that S3 acknowledged is durable, so no extra step is needed.
    """

    def __init__(self, url: str, client: Any = None) -> None:
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise ValueError(f"blob URL must look like s3://bucket/prefix, not {url!r}")
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/")
        if client is None:
            try:
                import boto3
                from botocore.config import Config
            except ImportError:
                raise MissingExtra("s3", "Keeping recordings in S3 (FOOTAGE_BLOB_URL)") from None

            client = boto3.client(
                "s3",
                config=Config(
                    max_pool_connections=64,
                    retries={"max_attempts": 5, "mode": "standard"},
                ),
            )
        self.client = client

    def _key(self, key: str) -> str:
        if not _KEY.match(key) or ".." in key:
            raise ValueError(f"invalid blob key: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=self._key(key), Body=data)

    def get(self, key: str, offset: int = 0, length: int | None = None) -> bytes:
        args: dict[str, Any] = {"Bucket": self.bucket, "Key": self._key(key)}
        if offset or length is not None:
            end = "" if length is None else str(offset + length - 1)
            args["Range"] = f"bytes={offset}-{end}"
        try:
            body: bytes = self.client.get_object(**args)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            raise FileNotFoundError(key) from None
        return body

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True


def open_blob_store(data_dir: Path, blob_url: str = "") -> BlobStore:
    """The blob store a setting names: files under the data dir, or an S3 bucket."""
    if not blob_url:
        return LocalBlobStore(data_dir / "blobs")
    if blob_url.startswith("s3://"):
        return S3BlobStore(blob_url)
    raise ValueError(f"blob URL {blob_url!r} is not supported; leave it empty or use s3://…")
