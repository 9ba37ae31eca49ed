"""Few S3 round trips per file: an `lftp mirror -R` of 200 small files into new directories, counted
from Ferry's own metrics (ferry_s3_requests_total), with the session's directory knowledge
(`[limits] directory_cache`) on and off (off is the code path before it existed), through a proxy
that adds 50 ms to every S3 request (a bucket far away). Both settings run in the same test. The
assertions are on request counts, which are exact; the mirror times are printed for the record
(speed is judged by figures, not by timed assertions). lftp also keeps each file's time with MFMT
(one CopyObject per file on S3, pinned to the ETag the PUT answered), counted apart from the upload
path."""
from __future__ import annotations

import collections
import time

import pytest

from conftest import s3_storage_toml, unique_prefix, user_toml, write_file
from test_metrics import scrape

USER, PASSWORD = "mirror", "mirror-pass-2468"
DIRECTORIES, FILES_PER_DIRECTORY = 4, 50


def s3_requests(server) -> collections.Counter:
    page = scrape(server)
    counts = collections.Counter()
    for labels, value in page.series("ferry_s3_requests_total").items():
        counts[dict(labels)["operation"]] += int(value)
    return counts


def mirror(ferry_factory, s3_target, s3_bucket, fault_proxy, tmp_path, cache: str, delay: float):
    """Mirrors the tree up once; returns (S3 requests by operation, seconds, files)."""
    prefix = unique_prefix(f"mirror-{cache}")
    proxy = fault_proxy(mode="pass", delay=delay)
    server = ferry_factory(metrics=True, sftp=False, limits_toml=f'directory_cache = "{cache}"',
                           extra_toml=s3_storage_toml("s3", s3_target, endpoint=proxy.url),
                           users_toml=user_toml(USER, PASSWORD, f"s3:{s3_target.bucket}/{prefix}"),
                           passwords={USER: PASSWORD})
    local = tmp_path / f"tree-{cache}"
    expected = set()
    for d in range(DIRECTORIES):
        for f in range(FILES_PER_DIRECTORY):
            write_file(local / f"dir{d}" / f"file{f}.txt", f"{d}/{f}\n".encode())
            expected.add(f"{prefix}/dir{d}/file{f}.txt")
    before = s3_requests(server)
    started = time.monotonic()
    result = server.lftp(f'mirror -R --no-perms "{local}" /', user=USER, home=tmp_path / f"home-{cache}", timeout=600)
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    after = s3_requests(server)
    stored = {key for key in s3_bucket.objects(prefix + "/") if not key.endswith("/")}
    assert stored == expected
    server.stop()
    s3_bucket.delete_prefix(prefix + "/")
    # lftp keeps each file's time with MFMT after its upload; those are counted apart.
    log = server.log_text().splitlines()
    times = {"commands": sum(1 for line in log if " command " in line and "verb=MFMT" in line),
             "set": sum(1 for line in log if "modification time set" in line),
             "without HEAD": sum(1 for line in log if "modification time set" in line and "with=published" in line)}
    return after - before, seconds, len(expected), times


def test_mirror_costs_two_requests_per_file_and_is_faster_far_away(ferry_factory, s3_target, s3_bucket, fault_proxy,
                                                                   tmp_path, capsys):
    # "5m", not the default 30 s: the mirror (with lftp's MFMT per file) takes about 50 s here, and
    # what the session learned of the root at the start would expire before the last directory.
    warm, warm_seconds, files, warm_times = mirror(ferry_factory, s3_target, s3_bucket, fault_proxy, tmp_path, "5m", 0.05)
    cold, cold_seconds, _, cold_times = mirror(ferry_factory, s3_target, s3_bucket, fault_proxy, tmp_path, "0s", 0.05)
    with capsys.disabled():
        print(f"\nmirror of {files} files in {DIRECTORIES} new directories, 50 ms per S3 request:\n"
              f"  directory_cache 5m: {sum(warm.values())} requests ({sum(warm.values()) / files:.3f} per file) "
              f"{dict(warm)}, {warm_seconds:.1f} s\n"
              f"  directory_cache 0s:  {sum(cold.values())} requests ({sum(cold.values()) / files:.3f} per file) "
              f"{dict(cold)}, {cold_seconds:.1f} s\n"
              f"  speed-up {cold_seconds / warm_seconds:.2f}x\n"
              f"  MFMT (lftp keeping each file's time): {warm_times} and {cold_times}, each one CopyObject")
    # lftp keeps every file's time with MFMT right after its STOR: one CopyObject each (the metadata
    # rewrite, pinned to the ETag the PUT answered: no HEAD), whatever the directory knowledge.
    # They are counted apart from the upload path.
    for counts, times in ((warm, warm_times), (cold, cold_times)):
        assert times["commands"] == times["set"] == times["without HEAD"] == files, times
        assert counts["CopyObject"] == files
    uploads = {op: warm[op] - (files if op == "CopyObject" else 0) for op in warm}
    cold_uploads = {op: cold[op] - (files if op == "CopyObject" else 0) for op in cold}
    # Each file: the overwrite check (HEAD) and the PUT; each directory: its marker; one listing.
    assert uploads["PutObject"] == files + DIRECTORIES
    assert uploads["HeadObject"] == files, warm
    assert uploads["ListObjectsV2"] == 1 + DIRECTORIES  # lftp lists the target and each new directory
    assert sum(uploads.values()) == 2 * files + 2 * DIRECTORIES + 1
    # Without the session's knowledge every upload also lists twice (is-a-directory, parent exists).
    assert cold_uploads["ListObjectsV2"] >= 2 * files
    # With 50 ms per request the uploads are bound by round trips: at least 1.8 times fewer of them.
    assert sum(cold_uploads.values()) >= 1.8 * sum(uploads.values())
