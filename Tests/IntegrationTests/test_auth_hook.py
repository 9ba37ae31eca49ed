"""`[auth] http`: the external identity service. A small Python service started here answers Ferry's
POSTs; password and key logins over FTP and SFTP, denial, timeout, malformed answers, an answer
with an invalid home, the cache, the file's users first, and the defender counting refusals."""
from __future__ import annotations

import ftplib
import http.server
import io
import json
import threading
import time

import pytest

import sshsupport
from conftest import HOST, free_port, release_ports, toml_str

HOOK_PASSWORDS = {"hooky": "hooky-pass-4711", "slowpoke": "slow-pass-0815", "nohome": "nohome-pass-1234",
                  "garbled": "garbled-pass-5678", "teapot": "teapot-pass-9012", "denied": "denied-pass-3456",
                  "noallow": "noallow-pass-7890"}


class IdentityService:
    """A minimal identity service: answers per user name as the test sets, records every request."""

    def __init__(self):
        self.requests: list[dict] = []
        self.port = free_port()
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("content-length", "0"))
                request = json.loads(self.rfile.read(length))
                service.requests.append(request)
                status, body, delay = service.answer(request)
                time.sleep(delay)
                data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer((HOST, self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}/ferry-auth"

    def answer(self, request: dict) -> tuple[int, object, float]:
        user = request["user"]
        home = {"home": "local:files/hooky", "authority": "RW", "delete": False}
        if user == "hooky" and request.get("password") == HOOK_PASSWORDS["hooky"]:
            return 200, {"allow": True, "user": {**home, "folder": [
                {"path": "/shared", "target": "local:files/rw", "authority": "RO"}]}}, 0
        if user == "keyhook" and request.get("public_key", "").split()[:2] == self.ed25519_line().split()[:2]:
            return 200, {"allow": True, "user": {"name": "keyhook", **home}}, 0
        if user == "slowpoke":
            return 200, {"allow": True, "user": home}, 3.0  # longer than [auth] timeout
        if user == "nohome":
            return 200, {"allow": True, "user": {"home": "nosuch:bucket"}}, 0
        if user == "garbled":
            return 200, "this is not json {", 0
        if user == "teapot":
            return 500, {"allow": True, "user": home}, 0
        if user == "noallow":
            return 200, {"user": home}, 0
        return 200, {"allow": False, "reason": "unknown user or wrong credential"}, 0

    @staticmethod
    def ed25519_line() -> str:
        return sshsupport.keys()["ed25519"].public_line

    def users_asked(self) -> list[str]:
        return [r["user"] for r in self.requests]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        release_ports([self.port])


@pytest.fixture
def service():
    started = IdentityService()
    yield started
    started.stop()


def auth_toml(url: str, **settings) -> str:
    values = {"http": url, "timeout": "1s", "cache_ttl": "60s", **settings}
    return "\n[auth]\n" + "".join(f"{key} = {toml_str(value) if isinstance(value, str) else str(value).lower()}\n"
                                  for key, value in values.items())


def hook_server(ferry_factory, service, **options):
    settings = options.pop("auth", {})
    server = ferry_factory(extra_toml=auth_toml(service.url, **settings), passwords=HOOK_PASSWORDS, **options)
    (server.root / "files" / "hooky").mkdir(parents=True, exist_ok=True)
    return server


def ftp_login_fails(server, user: str, password: str) -> str:
    f = ftplib.FTP()
    try:
        with pytest.raises((ftplib.error_perm, ftplib.error_temp)) as refused:
            f.connect(HOST, server.port, timeout=30)  # a banned address is refused here (421)
            f.login(user, password)
        return str(refused.value)
    finally:
        f.close()


def test_password_logins_over_ftp_and_sftp_with_the_answered_user(ferry_factory, service):
    server = hook_server(ferry_factory, service)
    f = server.ftp("hooky")
    f.storbinary("STOR hello.txt", io.BytesIO(b"from the hook"))
    assert sorted(f.nlst()) == ["hello.txt", "shared"]
    # The answer's authority and delete flag apply: RW but no delete, /shared read-only.
    with pytest.raises(ftplib.error_perm) as refused:
        f.delete("hello.txt")
    assert str(refused.value).startswith("550")
    with pytest.raises(ftplib.error_perm):
        f.storbinary("STOR shared/nope.txt", io.BytesIO(b"x"))
    f.quit()
    assert (server.root / "files" / "hooky" / "hello.txt").read_bytes() == b"from the hook"

    sftp = sshsupport.paramiko_sftp(server.sftp_port, "hooky", password=HOOK_PASSWORDS["hooky"])
    with sftp.open("hello.txt") as download:  # closed before the transport, never by the collector
        assert download.read() == b"from the hook"
    sftp.get_channel().get_transport().close()

    first = service.requests[0]
    assert first == {"user": "hooky", "password": HOOK_PASSWORDS["hooky"], "protocol": "ftp",
                     "client_address": HOST}, first
    assert any(r["protocol"] == "sftp" and r["user"] == "hooky" for r in service.requests)
    log = server.log_text()
    assert HOOK_PASSWORDS["hooky"] not in log


def test_key_login_over_sftp(ferry_factory, service):
    server = hook_server(ferry_factory, service)
    sftp = sshsupport.paramiko_sftp(server.sftp_port, "keyhook", key="ed25519")
    with sftp.open("key.txt", "wb") as handle:
        handle.write(b"keyed")
    sftp.get_channel().get_transport().close()
    assert (server.root / "files" / "hooky" / "key.txt").read_bytes() == b"keyed"
    asked = [r for r in service.requests if r["user"] == "keyhook"]
    assert asked and all(r["protocol"] == "sftp" and "password" not in r for r in asked), asked
    assert asked[0]["public_key"].startswith("ssh-ed25519 AAAA")
    # A key the service does not allow is refused.
    with pytest.raises(Exception):
        sshsupport.paramiko_sftp(server.sftp_port, "keyhook", key="stranger")


@pytest.mark.parametrize("user, reason", [
    ("denied", "unknown user or wrong credential"),
    ("slowpoke", "Timeout"),
    ("garbled", "not JSON"),
    ("teapot", "unexpected HTTP status 500"),
    ("noallow", "no \\\"allow\\\""),
    ("nohome", "unknown storage"),
])
def test_refusals_fail_closed_with_a_logged_reason(ferry_factory, service, user, reason):
    server = hook_server(ferry_factory, service)
    mark = server.log_size()
    started = time.monotonic()
    assert ftp_login_fails(server, user, HOOK_PASSWORDS[user]).startswith("530")
    assert time.monotonic() - started < 10, "a slow service must not hold the login beyond its timeout"
    log = server.log_text(mark)
    assert f"user={user}" in log and reason.replace("\\", "") in log.replace("\\", ""), log
    assert HOOK_PASSWORDS[user] not in log
    assert server.alive
    # The server still serves everyone else.
    server.ftp("rw").quit()


def test_cache_reuses_allowed_answers_and_forgets_after_a_failure(ferry_factory, service):
    server = hook_server(ferry_factory, service)
    for _ in range(3):
        server.ftp("hooky").quit()
    assert service.users_asked().count("hooky") == 1, service.requests
    assert ftp_login_fails(server, "hooky", "wrong-password").startswith("530")
    assert service.users_asked().count("hooky") == 2  # a different credential: asked
    server.ftp("hooky").quit()  # the failure dropped the cached answer: asked again
    assert service.users_asked().count("hooky") == 3


def test_without_cache_every_login_asks(ferry_factory, service):
    server = hook_server(ferry_factory, service, auth={"cache_ttl": "0s"})
    for _ in range(2):
        server.ftp("hooky").quit()
    assert service.users_asked().count("hooky") == 2


def test_file_users_first_or_service_first(ferry_factory, service):
    server = hook_server(ferry_factory, service)
    server.ftp("rw").quit()
    assert "rw" not in service.users_asked()  # decided by the file
    server.stop()
    server = hook_server(ferry_factory, service, auth={"file_users_first": False})
    server.ftp("rw").quit()  # the service denies rw; the file then allows it
    assert "rw" in service.users_asked()


def test_refusals_count_for_the_defender(ferry_factory, service):
    server = hook_server(ferry_factory, service, max_login_failures=2)
    for _ in range(2):
        ftp_login_fails(server, "denied", HOOK_PASSWORDS["denied"])
    asked = len(service.requests)
    assert ftp_login_fails(server, "hooky", HOOK_PASSWORDS["hooky"]).startswith("421")  # banned now
    assert len(service.requests) == asked, "a banned address is refused before the service is asked"
    assert "address banned" in server.log_text()
