"""The orphaned-upload reaper (issue 12, part 6) against SeaweedFS: a multipart upload left pending
(as by a killed instance; made here with boto3) under a user's prefix is aborted once it has been
idle for `abandoned_upload_age`, logged and counted; one outside every user's bindings, and one
still receiving parts, are left alone. The fleet test kills a real instance mid-upload."""

from __future__ import annotations

import threading
import time

import pytest

from conftest import s3_storage_toml, unique_prefix, user_toml, wait_for


def orphan(s3_bucket, key: str) -> str:
    """A pending multipart upload with one part, as a killed uploader leaves it."""
    upload_id = s3_bucket.client.create_multipart_upload(Bucket=s3_bucket.name, Key=key)["UploadId"]
    s3_bucket.client.upload_part(Bucket=s3_bucket.name, Key=key, UploadId=upload_id, PartNumber=1, Body=b"p" * (5 << 20))
    return upload_id


def test_reaper_aborts_idle_uploads_under_user_prefixes_only(ferry_factory, s3_target, s3_bucket):
    prefix, outside = unique_prefix("reaper"), unique_prefix("reaper-outside")
    inside_key, outside_key, active_key = f"{prefix}/left/behind.bin", f"{outside}/not-ours.bin", f"{prefix}/active.bin"
    stop_feeding = threading.Event()

    def feed(upload_id: str):
        """A live uploader: a new part every second (its first part is older than the age)."""
        part = 2
        while not stop_feeding.wait(1):
            s3_bucket.client.upload_part(Bucket=s3_bucket.name, Key=active_key, UploadId=upload_id, PartNumber=part,
                                         Body=b"q" * (5 << 20))
            part += 1

    feeder = None
    started = time.monotonic()  # before the first upload begins: every orphan is younger than this
    try:
        orphan(s3_bucket, inside_key)
        orphan(s3_bucket, outside_key)
        feeder = threading.Thread(target=feed, args=(orphan(s3_bucket, active_key),))
        feeder.start()
        server = ferry_factory(
            extra_toml=s3_storage_toml("s3", s3_target, abandoned_upload_age="6s"),
            users_toml=user_toml("reaped", "reaped-secret", f"s3:{s3_target.bucket}/{prefix}"),
            passwords={"reaped": "reaped-secret"}, metrics=True)
        if time.monotonic() - started < 5:  # (a very slow start would make this check meaningless)
            assert len(s3_bucket.pending_uploads(prefix + "/")) == 2, "an upload younger than the age was aborted"
        assert wait_for(lambda: all(k != inside_key for k, _ in s3_bucket.pending_uploads(prefix + "/")), timeout=30, interval=0.5), \
            "the idle upload was not aborted"
        pending = [k for k, _ in s3_bucket.pending_uploads(prefix + "/")]
        assert active_key in pending, "an upload still receiving parts was aborted"
        assert [k for k, _ in s3_bucket.pending_uploads(outside + "/")] == [outside_key], "an upload outside every binding was touched"
        log = server.log_text()
        assert "abandoned upload aborted" in log and inside_key in log
        assert 'abandoned_upload_age of "s3" (6 s) is shorter than [limits] idle_timeout' in log  # the startup warning
        code, page = server.http_get("/metrics")
        assert 'ferry_abandoned_uploads_aborted_total{storage="s3"} 1' in page
    finally:
        stop_feeding.set()
        if feeder:
            feeder.join(30)
        s3_bucket.delete_prefix(prefix + "/")
        s3_bucket.delete_prefix(outside + "/")


def test_zero_disables_the_reaper(ferry_factory, s3_target, s3_bucket):
    prefix = unique_prefix("reaper-off")
    try:
        orphan(s3_bucket, f"{prefix}/kept.bin")
        server = ferry_factory(
            extra_toml=s3_storage_toml("s3", s3_target, abandoned_upload_age="0s"),
            users_toml=user_toml("kept", "kept-secret", f"s3:{s3_target.bucket}/{prefix}"), passwords={"kept": "kept-secret"})
        time.sleep(3)
        assert len(s3_bucket.pending_uploads(prefix + "/")) == 1
        assert "abandoned upload aborted" not in server.log_text()
    finally:
        s3_bucket.delete_prefix(prefix + "/")
