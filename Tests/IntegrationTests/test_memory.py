"""One memory budget for the whole process (issue 10): 64 concurrent 24 MiB transfers (32 FTP, 32
SFTP) through Ferry to SeaweedFS with `[limits] transfer_memory = "256MiB"` and the production part
size (16 MiB, 4 parts in flight: 80 MiB per upload without the budget, 5 GiB for 64). All complete
byte-exact, and Ferry's peak RSS (VmHWM) stays under the budget plus its idle footprint plus a margin
for what is not transfer buffers (threads' stacks, libssh's and libcurl's own buffers).
FERRY_MEMORY_BUDGET_MIB (default 256) tests another budget, e.g. 1024 for the default's figure."""

from __future__ import annotations

import ftplib
import hashlib
import os
import threading
import time
from pathlib import Path

import pytest

from conftest import HOST, random_bytes, s3_storage_toml, unique_prefix, user_toml
from sshsupport import sftp_batch

MiB = 1024 * 1024
BUDGET_MIB = int(os.environ.get("FERRY_MEMORY_BUDGET_MIB", "256"))
BUDGET = BUDGET_MIB * MiB
# Not transfer buffers: 64 connection threads, 64 libssh sessions with their packet buffers, curl
# handles, the ChunkQueue's chunk arrays, malloc's per-thread arenas.
MARGIN = 96 * MiB
# What an SFTP client may send ahead on each session channel: libssh's receive window (WINDOWBASE,
# 1,280,000 bytes), held in a channel buffer that grows by powers of two (2 MiB). Since one
# connection serves several channels, whichever thread waits reads the socket for all of them, so a
# channel whose upload waits for transfer memory holds its window in Ferry's memory rather than in
# the kernel's socket buffer (OpenSSH's sshd holds 2 MiB per channel the same way).
SSH_CHANNEL_WINDOW = 2 * MiB
SIZE = 24 * MiB
# Per protocol. Under a sanitizer (several times slower, only correctness judged) 8 each: still
# more part buffers wanted than the budget holds.
CLIENTS = 8 if os.environ.get("FERRY_SANITIZER") else 32


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"{field} missing from /proc/{pid}/status")


def test_64_concurrent_transfers_stay_within_the_budget(ferry_factory, s3_target, s3_bucket, tmp_path):
    prefix = unique_prefix("memory")
    server = ferry_factory(
        extra_toml=s3_storage_toml("s3", s3_target, part_size="16MiB", upload_concurrency=4, max_object_size="20GiB"),
        users_toml=user_toml("mem", "mem-secret", f"s3:{s3_target.bucket}/{prefix}"),
        passwords={"mem": "mem-secret"}, log_level="info", max_connections=256, max_connections_per_ip=200,
        limits_toml=f'transfer_memory = "{BUDGET_MIB}MiB"', passive_port_count=2 * CLIENTS)
    pid = server.proc.pid
    sources = []
    for n in range(8):
        data = random_bytes(SIZE, seed=100 + n)
        path = tmp_path / f"src-{n}.bin"
        path.write_bytes(data)
        sources.append((path, hashlib.sha256(data).hexdigest()))
    # The idle footprint: after one login of each kind.
    with server.ftp("mem") as f:
        f.voidcmd("NOOP")
    assert sftp_batch(server.sftp_port, "mem", "pwd\n").returncode == 0
    idle_kib = status_kib(pid, "VmRSS")

    failures: list[str] = []
    lock = threading.Lock()

    def record(what: str):
        with lock:
            failures.append(what)

    def ftp_upload(i: int):
        source, _ = sources[i % len(sources)]
        try:
            with ftplib.FTP() as f:
                f.connect(HOST, server.port, timeout=300)
                f.login("mem", "mem-secret")
                with open(source, "rb") as fh:
                    f.storbinary(f"STOR ftp-{i}.bin", fh, blocksize=256 * 1024)
        except Exception as exc:  # noqa: BLE001 - reported below
            record(f"ftp upload {i}: {exc!r}")

    def sftp_upload(i: int):
        source, _ = sources[i % len(sources)]
        r = sftp_batch(server.sftp_port, "mem", f"put {source} sftp-{i}.bin\n", timeout=300)
        if r.returncode != 0:
            record(f"sftp upload {i}: {r.stdout[-500:]}")

    def ftp_download(i: int):
        _, digest = sources[i % len(sources)]
        h = hashlib.sha256()
        try:
            with ftplib.FTP() as f:
                f.connect(HOST, server.port, timeout=300)
                f.login("mem", "mem-secret")
                f.retrbinary(f"RETR sftp-{i}.bin", h.update, blocksize=256 * 1024)
        except Exception as exc:  # noqa: BLE001
            record(f"ftp download {i}: {exc!r}")
            return
        if h.hexdigest() != digest:
            record(f"ftp download {i}: content differs")

    def sftp_download(i: int):
        _, digest = sources[i % len(sources)]
        target = tmp_path / f"back-{i}.bin"
        r = sftp_batch(server.sftp_port, "mem", f"get ftp-{i}.bin {target}\n", timeout=300)
        if r.returncode != 0:
            record(f"sftp download {i}: {r.stdout[-500:]}")
            return
        if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
            record(f"sftp download {i}: content differs")
        target.unlink()

    def run_all(jobs):
        threads = [threading.Thread(target=job, args=(i,)) for job in jobs for i in range(CLIENTS)]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        assert not any(t.is_alive() for t in threads), "a transfer did not finish within 10 minutes"
        return time.monotonic() - started

    upload_seconds = run_all([ftp_upload, sftp_upload])
    assert not failures, failures
    # Every object is complete in S3 itself, and nothing is left pending.
    objects = s3_bucket.objects(prefix + "/")
    for i in range(CLIENTS):
        for name in (f"ftp-{i}.bin", f"sftp-{i}.bin"):
            digest, size = s3_bucket.sha256(f"{prefix}/{name}")
            assert size == SIZE and digest == sources[i % len(sources)][1], name
    assert len(objects) == 2 * CLIENTS, sorted(objects)
    assert s3_bucket.pending_uploads(prefix + "/") == []
    download_seconds = run_all([ftp_download, sftp_download])
    assert not failures, failures

    s3_bucket.delete_prefix(prefix + "/")
    peak_kib = status_kib(pid, "VmHWM")
    print(f"\nmemory: idle {idle_kib / 1024:.0f} MiB, peak {peak_kib / 1024:.0f} MiB with a {BUDGET_MIB} MiB budget; "
          f"{2 * CLIENTS} uploads in {upload_seconds:.1f} s, {2 * CLIENTS} downloads in {download_seconds:.1f} s")
    if os.environ.get("FERRY_SANITIZER"):
        return  # sanitizers add shadow memory and quarantines: only correctness is judged then
    windows = CLIENTS * SSH_CHANNEL_WINDOW
    assert peak_kib * 1024 <= BUDGET + idle_kib * 1024 + windows + MARGIN, (
        f"peak RSS {peak_kib / 1024:.0f} MiB > budget {BUDGET_MIB} MiB + idle {idle_kib / 1024:.0f} MiB"
        f" + SSH channel windows {windows / MiB:.0f} MiB + margin {MARGIN // MiB} MiB")
