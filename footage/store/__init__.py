"""Storage: the database (SQLite by default) and the blob store (local files).

This package alone knows which backend is in use; features call `Database` and `BlobStore`.
"""

from footage.store.blobs import BlobStore, LocalBlobStore, S3BlobStore, open_blob_store
from footage.store.db import Database

__all__ = ["BlobStore", "Database", "LocalBlobStore", "S3BlobStore", "open_blob_store"]
