"""Every phase bounded (issue 10): the login phase (FTP before login, SSH key exchange and
authentication), TLS handshakes, waiting for a data connection; a per-user session limit across
protocols; and hundreds of slow-loris connections that do not delay a new client's login."""

from __future__ import annotations

import contextlib
import ftplib
import socket
import threading
import time

import pytest

from conftest import HOST, RawFTP, reply_code, tls_toml, user_toml
from sshsupport import paramiko_sftp, sftp_batch


def closed_within(sock: socket.socket, seconds: float) -> tuple[bool, bytes]:
    """Reads until the server closes `sock`; True if that happened within `seconds`."""
    sock.settimeout(0.25)
    received = b""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            chunk = sock.recv(4096)
        except socket.timeout:
            continue
        except OSError:
            return True, received
        if not chunk:
            return True, received
        received += chunk
    return False, received


@pytest.fixture(scope="module")
def strict(ferry_module_factory, tls_cert):
    """Short phase timeouts; user `limited` may have two sessions at once."""
    return ferry_module_factory(
        extra_toml=tls_toml(tls_cert), implicit_tls=True,
        limits_toml='login_timeout = "2s"\ntls_handshake_timeout = "2s"\ndata_connection_timeout = "2s"',
        users_toml=user_toml("limited", "limited-secret", "local:files/rw") + "max_sessions = 2\n",
        passwords={"limited": "limited-secret"}, max_connections=400, max_connections_per_ip=400)


def test_ftp_login_phase_is_bounded_even_for_a_trickling_client(strict):
    silent = socket.create_connection((HOST, strict.port))
    closed, received = closed_within(silent, 6)
    assert closed and b"421" in received and b"Login timeout" in received, received
    # A byte every half second never completes a line: the login deadline holds regardless.
    trickler = socket.create_connection((HOST, strict.port))
    trickler.settimeout(0.25)
    started = time.monotonic()
    with contextlib.suppress(OSError):
        for byte in b"USER limited and then some more":
            trickler.send(bytes([byte]))
            time.sleep(0.5)
            if time.monotonic() - started > 8:
                break
    closed, _ = closed_within(trickler, 4)
    assert closed and time.monotonic() - started < 8
    assert "login timeout" in strict.log_text()
    # A client that logs in in time stays past the login deadline.
    with strict.ftp("limited", timeout=10) as f:
        time.sleep(3)
        assert f.sendcmd("NOOP").startswith("200")


def test_ssh_login_phase_is_bounded(strict):
    raw = socket.create_connection((HOST, strict.sftp_port))
    closed, _ = closed_within(raw, 8)
    assert closed, "an SSH connection that never authenticates must be closed after login_timeout"
    # A client that trickles its version line a byte at a time is closed all the same.
    trickler = socket.create_connection((HOST, strict.sftp_port))
    started = time.monotonic()
    with contextlib.suppress(OSError):
        for byte in b"SSH-2.0-slowloris-client-that-never-ends":
            trickler.send(bytes([byte]))
            time.sleep(0.5)
    assert time.monotonic() - started < 8, "the trickling SSH client was not cut off"


def test_tls_handshake_is_bounded(strict):
    raw = socket.create_connection((HOST, strict.implicit_port))
    raw.sendall(b"\x16\x03\x01")  # the first bytes of a ClientHello, then nothing
    closed, _ = closed_within(raw, 6)
    assert closed, "a TLS handshake that stalls must fail after tls_handshake_timeout"
    with RawFTP(strict.port) as c:
        c.reply()
        c.send("AUTH TLS")
        assert c.reply()[0] == 234
        closed, _ = closed_within(c.sock, 6)
        assert closed


def test_waiting_for_a_data_connection_is_bounded(strict):
    with strict.ftp("limited", timeout=20) as f:
        f.sendcmd("PASV")
        started = time.monotonic()
        f.putcmd("LIST")
        code, text = reply_code(f.getresp)
        if code == 150:
            code, text = reply_code(f.getresp)
        assert code == 425, text
        assert 1.5 < time.monotonic() - started < 8


def test_max_sessions_counts_every_protocol(strict):
    first = strict.ftp("limited")
    sftp = paramiko_sftp(strict.sftp_port, "limited", password="limited-secret")
    try:
        with pytest.raises(ftplib.error_perm) as refused:
            strict.ftp("limited")
        assert str(refused.value).startswith("530") and "sessions" in str(refused.value)
        r = sftp_batch(strict.sftp_port, "limited", "pwd\n", key=None, password="limited-secret")
        assert r.returncode != 0
        assert "SSH login refused" in strict.log_text() and "tooManySessions" in strict.log_text()
        # The refusals are not failed logins: the address is not banned.
        with strict.ftp("rw") as other:
            assert other.sendcmd("NOOP").startswith("200")
    finally:
        first.quit()
    # A session ended: there is room again.
    second = strict.ftp("limited")
    second.quit()
    sftp.close()


def test_slow_loris_does_not_delay_a_new_login(strict):
    """200 FTP and 100 SSH connections that send a byte every two seconds; a new client logs in over
    FTP and SFTP meanwhile, as fast as on an idle server."""
    stop = threading.Event()
    sockets: list[socket.socket] = []

    def open_all():
        for i in range(300):
            port = strict.port if i < 200 else strict.sftp_port
            with contextlib.suppress(OSError):
                s = socket.create_connection((HOST, port), timeout=5)
                sockets.append(s)

    def trickle():
        while not stop.wait(2):
            for s in list(sockets):
                with contextlib.suppress(OSError):
                    s.send(b"N")

    open_all()
    assert len(sockets) >= 280, len(sockets)
    feeder = threading.Thread(target=trickle, daemon=True)
    feeder.start()
    try:
        started = time.monotonic()
        with strict.ftp("rw", timeout=10) as f:
            assert f.sendcmd("NOOP").startswith("200")
        ftp_seconds = time.monotonic() - started
        started = time.monotonic()
        with paramiko_sftp(strict.sftp_port, "rw") as client:
            client.listdir("/")
        sftp_seconds = time.monotonic() - started
        assert ftp_seconds < 2 and sftp_seconds < 5, (ftp_seconds, sftp_seconds)
    finally:
        stop.set()
        for s in sockets:
            with contextlib.suppress(OSError):
                s.close()


def test_a_client_gone_while_its_data_connection_is_awaited_is_noticed(ferry):
    """The data-connection wait (30 s by default) ends as soon as the client's control connection
    closes, instead of holding the session for the whole timeout."""
    needle = "the client closed the control connection"
    before = ferry.log_text().count(needle)
    with RawFTP(ferry.port) as c:
        c.reply()
        c.send("USER rw")
        c.reply()
        c.send("PASS " + ferry.passwords["rw"])
        assert c.reply()[0] == 230
        c.send("PASV")
        assert c.reply()[0] == 227
        c.send("LIST")
        assert c.reply()[0] == 150
    started = time.monotonic()
    while time.monotonic() - started < 10:
        if ferry.log_text().count(needle) > before:
            break
        time.sleep(0.2)
    assert time.monotonic() - started < 5, ferry.log_text()[-2000:]
