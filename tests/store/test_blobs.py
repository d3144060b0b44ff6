"""One contract, two blob stores: local files and S3 (against a real S3-protocol server)."""

from __future__ import annotations

import uuid

import pytest

from footage.store.blobs import BlobStore, LocalBlobStore, S3BlobStore, open_blob_store
from tests.store.conftest import make_bucket


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path) -> BlobStore:
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    request.getfixturevalue("s3_env")
    bucket = f"footage-{uuid.uuid4().hex[:8]}"
    make_bucket(bucket)
    return open_blob_store(tmp_path, f"s3://{bucket}/some/prefix")


def test_put_then_get_whole_and_ranges(store):
    store.put("chunks/site/page/0.ndjson.zst", b"0123456789")
    assert store.get("chunks/site/page/0.ndjson.zst") == b"0123456789"
    assert store.get("chunks/site/page/0.ndjson.zst", 3, 4) == b"3456"
    assert store.get("chunks/site/page/0.ndjson.zst", 8) == b"89"
    assert store.exists("chunks/site/page/0.ndjson.zst")


def test_put_replaces_and_delete_removes(store):
    store.put("recordings/s/r.ndjson.zst", b"first")
    store.put("recordings/s/r.ndjson.zst", b"second")
    assert store.get("recordings/s/r.ndjson.zst") == b"second"
    store.delete("recordings/s/r.ndjson.zst")
    assert not store.exists("recordings/s/r.ndjson.zst")
    store.delete("recordings/s/r.ndjson.zst")  # deleting twice is fine


def test_missing_blob_is_file_not_found(store):
    with pytest.raises(FileNotFoundError):
        store.get("recordings/s/nothing.ndjson.zst")


@pytest.mark.parametrize("key", ["../etc/passwd", "/abs", "a//b", "sp ace", ""])
def test_unsafe_keys_are_refused(store, key):
    with pytest.raises(ValueError):
        store.put(key, b"x")


def test_s3_objects_live_under_the_prefix(s3_env, tmp_path):
    make_bucket("prefixed")
    store = open_blob_store(tmp_path, "s3://prefixed/footage/prod")
    assert isinstance(store, S3BlobStore)
    store.put("chunks/a/b/0.ndjson.zst", b"x")
    keys = [o["Key"] for o in store.client.list_objects_v2(Bucket="prefixed")["Contents"]]
    assert keys == ["footage/prod/chunks/a/b/0.ndjson.zst"]


def test_bad_blob_urls_are_explained(tmp_path):
    with pytest.raises(ValueError, match="s3://"):
        open_blob_store(tmp_path, "ftp://x")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3BlobStore("s3://")


def test_a_recording_end_to_end_on_s3(s3_env, tmp_path, clock, database_url):
    """Ingest → finalize → events, with chunks in S3: the chunk objects are merged away."""
    import json

    from footage.app import build_services
    from footage.recordings.queries import iter_events_json
    from tests.conftest import click, full_snapshot, make_account, meta, new_ids, settings_for
    from tests.sessions.test_finalizer import send

    bucket = f"recordings-{uuid.uuid4().hex[:8]}"
    make_bucket(bucket)
    svc = build_services(
        settings_for(tmp_path, database_url=database_url, blob_url=f"s3://{bucket}/f"), clock
    )
    alice = make_account(svc, "Alice", site_url="https://alice.example")
    ids, t = new_ids(), clock.now_ms()
    rec = send(svc, alice.site_key, ids, 0, [meta(t), full_snapshot(t + 1)])
    send(svc, alice.site_key, ids, 1, [click(t + 100)], left=True)
    listing = svc.blobs.client.list_objects_v2(Bucket=bucket)["Contents"]
    assert len(listing) == 2 and all("/segments/" in o["Key"] for o in listing)
    clock.advance(11)
    assert svc.finalizer.run_once() == 1
    keys = [o["Key"] for o in svc.blobs.client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [f"f/recordings/{alice.site_id}/{rec.recording_id}.ndjson.zst"]
    events = json.loads(b"".join(iter_events_json(svc.db, svc.blobs, rec.recording_id)))
    assert [e["type"] for e in events] == [4, 2, 3]
    svc.db.dispose()
