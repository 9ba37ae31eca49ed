"""Drain on SIGTERM (issue 12, part 3) over real S3: /healthz turns 503 at once and the listeners
close, idle sessions are told (FTP 421), a running transfer completes within the grace period; when
the grace period ends, or at a second signal, what is still open is cut and its multipart uploads
are aborted. Every stop ends with exit code 0 and nothing half-written in the bucket."""

from __future__ import annotations

import hashlib
import signal
import socket
import time

import pytest

from conftest import HOST, random_bytes, s3_storage_toml, unique_prefix, user_toml, wait_for
from sshsupport import paramiko_sftp

PASSWORD = "drain-secret"
MIB = 1 << 20


@pytest.fixture
def fleet_member(ferry_factory, s3_target, s3_bucket):
    """`fleet_member(grace)`: a Ferry on S3 with /healthz, and the user's key prefix."""
    prefixes = []

    def start(grace: str):
        prefix = unique_prefix("drain")
        prefixes.append(prefix)
        server = ferry_factory(
            extra_toml=s3_storage_toml("s3", s3_target),
            users_toml=user_toml("drainer", PASSWORD, f"s3:{s3_target.bucket}/{prefix}"),
            passwords={"drainer": PASSWORD}, metrics=True, limits_toml=f'shutdown_grace = "{grace}"')
        return server, prefix

    yield start
    for prefix in prefixes:
        s3_bucket.delete_prefix(prefix + "/")


def begin_ftp_upload(server, name: str, first: bytes):
    ftp = server.ftp("drainer")
    ftp.voidcmd("TYPE I")
    data = ftp.transfercmd(f"STOR {name}")
    data.sendall(first)
    return ftp, data


def signal_server(server, number):
    server.stopped_by_us = True  # the harness must not report this exit as a crash
    server.proc.send_signal(number)


def refused(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def test_sigterm_drains_and_lets_the_running_upload_finish(fleet_member, s3_bucket, capsys):
    server, prefix = fleet_member("30s")
    assert server.http_get("/healthz") == (200, "ok\n")
    payload = random_bytes(12 * MIB, seed=12)
    uploader, data = begin_ftp_upload(server, "running.bin", payload[:6 * MIB])  # one 5 MiB part is out
    assert wait_for(lambda: s3_bucket.pending_uploads(f"{prefix}/running.bin"), timeout=10)
    idle = server.ftp("drainer")

    signal_server(server, signal.SIGTERM)
    started = time.monotonic()
    assert wait_for(lambda: server.http_get("/healthz") == (503, "draining\n"), timeout=5, interval=0.01)
    to_503 = time.monotonic() - started
    with capsys.disabled():
        print(f"\nSIGTERM to /healthz 503: {to_503 * 1000:.0f} ms")
    assert to_503 < 1.0
    assert wait_for(lambda: refused(server.port) and refused(server.sftp_port), timeout=3), "listeners still accept"
    # The idle session is told why it ends.
    idle.sock.settimeout(5)
    assert idle.getline().startswith("421"), "an idle session was not closed with 421"

    data.sendall(payload[6 * MIB:])
    data.close()
    assert uploader.voidresp().startswith("226")
    # Its transfer done, that session is idle too, and is closed like the other.
    assert uploader.getline().startswith("421")
    uploader.close()
    server.proc.wait(15)
    assert server.proc.returncode == 0
    assert hashlib.sha256(s3_bucket.get(f"{prefix}/running.bin")).digest() == hashlib.sha256(payload).digest()
    assert s3_bucket.pending_uploads(prefix + "/") == []
    assert "stopping: draining" in server.log_text()


def test_grace_period_over_aborts_what_is_still_open(fleet_member, s3_bucket):
    server, prefix = fleet_member("2s")
    ftp, data = begin_ftp_upload(server, "ftp-unfinished.bin", random_bytes(7 * MIB, seed=7))
    sftp = paramiko_sftp(server.sftp_port, "drainer", password=PASSWORD)
    handle = sftp.open("sftp-unfinished.bin", "wb")
    handle.write(random_bytes(7 * MIB, seed=8))
    handle.flush()
    assert wait_for(lambda: len(s3_bucket.pending_uploads(prefix + "/")) == 2, timeout=15)

    signal_server(server, signal.SIGTERM)
    started = time.monotonic()
    server.proc.wait(30)
    elapsed = time.monotonic() - started
    assert server.proc.returncode == 0
    assert 1.5 <= elapsed < 25, f"stopped after {elapsed:.1f} s with a 2 s grace period"
    assert s3_bucket.pending_uploads(prefix + "/") == [], "a multipart upload was left behind"
    assert s3_bucket.objects(prefix + "/") == {}, "a half-written object was published"
    assert "stopping with connections still open: cutting them" in server.log_text()
    for closing in (data.close, ftp.close, sftp.close):
        closing()


def test_a_second_signal_stops_at_once(fleet_member, s3_bucket, capsys):
    server, prefix = fleet_member("5m")
    _, data = begin_ftp_upload(server, "interrupted.bin", random_bytes(6 * MIB, seed=6))
    assert wait_for(lambda: s3_bucket.pending_uploads(f"{prefix}/interrupted.bin"), timeout=10)
    signal_server(server, signal.SIGTERM)
    time.sleep(0.5)
    assert server.alive, "the first signal must wait for the running upload"
    signal_server(server, signal.SIGINT)
    started = time.monotonic()
    server.proc.wait(20)
    assert server.proc.returncode == 0
    with capsys.disabled():
        print(f"\nsecond signal to exit: {(time.monotonic() - started) * 1000:.0f} ms")
    assert s3_bucket.pending_uploads(prefix + "/") == []
    assert s3_bucket.objects(prefix + "/") == {}
    assert "stopping now: second signal" in server.log_text()
    data.close()
