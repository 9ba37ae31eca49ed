"""Few S3 round trips per file: an `lftp mirror -R` of 200 small files into new directories, counted
from Ferry's own metrics (ferry_s3_requests_total), with the session's directory knowledge
(`[limits] directory_cache`) and conditional writes (`[[storage]] conditional_writes`: a new file's
PUT carries If-None-Match instead of a HEAD before it) on, and both off (the code path before they
existed), through a proxy that adds 50 ms to every S3 request (a bucket far away). Both settings
run in the same test. The
assertions are on request counts, which are exact; the mirror times are printed for the record
(speed is judged by figures, not by timed assertions). lftp also keeps each file's time with MFMT
(one CopyObject per file on S3, pinned to the ETag the PUT answered), counted apart from the upload
path."""
from __future__ import annotations

import collections
import ftplib
import io
import time

import pytest

import sshsupport
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


def mirror(ferry_factory, s3_target, s3_bucket, fault_proxy, tmp_path, cache: str, delay: float, conditional: bool):
    """Mirrors the tree up once; returns (S3 requests by operation, seconds, files)."""
    prefix = unique_prefix(f"mirror-{cache}")
    proxy = fault_proxy(mode="pass", delay=delay)
    server = ferry_factory(metrics=True, sftp=False, limits_toml=f'directory_cache = "{cache}"',
                           extra_toml=s3_storage_toml("s3", s3_target, endpoint=proxy.url, conditional_writes=conditional),
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
    warm, warm_seconds, files, warm_times = mirror(ferry_factory, s3_target, s3_bucket, fault_proxy, tmp_path, "5m", 0.05, True)
    cold, cold_seconds, _, cold_times = mirror(ferry_factory, s3_target, s3_bucket, fault_proxy, tmp_path, "0s", 0.05, False)
    with capsys.disabled():
        print(f"\nmirror of {files} files in {DIRECTORIES} new directories, 50 ms per S3 request:\n"
              f"  directory_cache 5m, conditional writes: {sum(warm.values())} requests "
              f"({sum(warm.values()) / files:.3f} per file) {dict(warm)}, {warm_seconds:.1f} s\n"
              f"  directory_cache 0s, no conditional writes: {sum(cold.values())} requests "
              f"({sum(cold.values()) / files:.3f} per file) "
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
    # Each file: its conditional PUT alone; each directory: its marker; one listing of each
    # directory lftp looks at. So the upload path costs 1.045 requests per file, 2.045 with MFMT.
    assert uploads["PutObject"] == files + DIRECTORIES
    assert uploads.get("HeadObject", 0) == 0, warm
    assert uploads["ListObjectsV2"] == 1 + DIRECTORIES  # lftp lists the target and each new directory
    assert sum(uploads.values()) == files + 2 * DIRECTORIES + 1
    # Before: every upload asked first (HEAD) and listed twice (is-a-directory, parent exists).
    assert cold_uploads["HeadObject"] >= files
    assert cold_uploads["ListObjectsV2"] >= 2 * files
    # With 50 ms per request the uploads are bound by round trips: at least 1.8 times fewer of them,
    # counting lftp's MFMT too.
    assert sum(cold_uploads.values()) >= 1.8 * sum(uploads.values())
    assert sum(cold.values()) >= 1.8 * sum(warm.values())


def test_a_file_that_appears_after_the_session_looked_is_never_overwritten_blindly(ferry_factory, s3_target, s3_bucket):
    """The race conditional writes close: a session makes a directory (so it believes the directory
    empty), then another client (boto3) stores a file there, then the session uploads the same name
    with no HEAD first. The store refuses the conditional PUT; the overwrite rule then applies to the
    object now there: a user without the delete flag is refused (FTP 550, SFTP failure) and the other
    client's bytes stay; a user with it replaces them, as when asked first. Over FTP and SFTP."""
    prefix = unique_prefix("appeared")
    users = {"keeper": ("keeper-pass-1357", False), "owner": ("owner-pass-2468", True)}
    server = ferry_factory(metrics=True, limits_toml='directory_cache = "5m"',
                           extra_toml=s3_storage_toml("s3", s3_target, conditional_writes=True),
                           users_toml="".join(user_toml(name, password, f"s3:{s3_target.bucket}/{prefix}/{name}", delete=delete)
                                              for name, (password, delete) in users.items()),
                           passwords={name: password for name, (password, _) in users.items()})
    for name, (password, may_delete) in users.items():
        ftp = server.ftp(user=name)
        ftp.mkd("d")
        s3_bucket.put(f"{prefix}/{name}/d/f.txt", b"theirs")
        before = s3_requests(server)
        if may_delete:
            ftp.storbinary("STOR d/f.txt", io.BytesIO(b"mine"))
            assert s3_bucket.get(f"{prefix}/{name}/d/f.txt") == b"mine"
        else:
            with pytest.raises(ftplib.error_perm, match="^550"):
                ftp.storbinary("STOR d/f.txt", io.BytesIO(b"mine"))
            assert s3_bucket.get(f"{prefix}/{name}/d/f.txt") == b"theirs"
        spent = s3_requests(server) - before
        # No HEAD before the PUT: the refused PUT, the HEAD of the overwrite rule, and (allowed) the PUT again.
        assert spent == collections.Counter({"PutObject": 2 if may_delete else 1, "HeadObject": 1}), spent
        ftp.quit()
        sftp = sshsupport.paramiko_sftp(server.sftp_port, name, password=password)
        sftp.mkdir("e")
        s3_bucket.put(f"{prefix}/{name}/e/g.txt", b"theirs")
        if may_delete:
            with sftp.open("e/g.txt", "w") as handle:
                handle.write(b"mine")
            assert s3_bucket.get(f"{prefix}/{name}/e/g.txt") == b"mine"
        else:
            # paramiko's close() swallows the failure status; the log shows it (checked below).
            with sftp.open("e/g.txt", "w") as handle:
                handle.write(b"mine")
            assert s3_bucket.get(f"{prefix}/{name}/e/g.txt") == b"theirs"
        sftp.close()
    log = server.log_text()
    assert log.count("a file appeared under its name meanwhile") == 4, log
    assert "request=close" in log and "status=permissionDenied" in log
    assert not [key for key, _ in s3_bucket.pending_uploads(prefix + "/")]
    s3_bucket.delete_prefix(prefix + "/")

