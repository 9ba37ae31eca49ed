"""Shared fixtures and helpers for Ferry's integration tests.

The tests drive a real `ferry serve` process on loopback with real clients (`curl`, `lftp` and
Python's `ftplib`) and check the results on disk: with the local storage driver, object
`bucket/key` is the file `<root>/<bucket>/<key>`, so user rw's `/a.txt` is
`<tmp>/data/files/rw/a.txt`.

Fixtures
- `ferry_bin`      path of the binary (`$FERRY_BIN` or `<repo>/.build/debug/ferry`).
- `ferry`          the main server, started once per session with the standard configuration.
- `ferry_factory`  starts extra servers with special settings for one test (defender, idle
                   timeout, active mode off, connection limits); they are stopped after the test.
- `area`           a fresh directory of its own for the test inside user rw's home (the users
                   ro and nodel see the same tree); `make_area(home)` for other homes.
- `ftp_login`      `ftp_login(user)` returns a logged-in `ftplib.FTP`, closed after the test.
- `ferry_module_factory`  like `ferry_factory`, for servers shared by one module's tests.
- `tls_cert`       a self-signed certificate and key for FTPS servers (`TLSFiles`; `tls_toml(...)` writes
                   the `[tls]` table, `ServerOptions.ftp_toml` adds `[ftp] tls = ...` and friends,
                   `implicit_tls=True` adds an implicit-TLS listener on `server.implicit_port`).
- `server.ftps()`  a logged-in `ftplib.FTP_TLS` with PROT P that resumes the control connection's TLS
                   session on data connections (`reuse_session=False`: plain FTP_TLS, which does not).

S3 (the S3 storage driver; `make test` runs SeaweedFS through scripts/with-s3 and exports
S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY, S3_REGION and FERRY_IT_BUCKET, a bucket that exists):
- `s3_target`      where S3 is (`S3Target`). Without S3_ENDPOINT every test that uses it FAILS,
                   unless FERRY_S3_OPTIONAL=1 (then they are skipped).
- `s3_bucket`      `S3Bucket`: boto3 on the test bucket, to check what Ferry wrote without Ferry.
- `fault_proxy`    `fault_proxy(mode=..., fault=...)` starts a `faultproxy.FaultProxy` in front of S3;
                   stopped after the test. Use `s3_storage_toml(..., endpoint=proxy.url)`.
- `s3_storage_toml`, `user_toml`, `unique_prefix` build server configurations for S3 homes.

When a test fails, the part of each running server's log written during the test is attached to
the report (and the requests each running fault proxy saw); the full logs stay in the pytest tmp
directory (`.../ferry.log`).
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import itertools
import json
import os
import random
import re
import signal
import socket
import ssl
import subprocess
import time
import urllib.parse
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pytest

import sshsupport
from faultproxy import FaultProxy

REPO = Path(__file__).resolve().parents[2]
HOST = "127.0.0.1"
TIMEOUT = 60  # seconds, for every subprocess and client operation
PORT_RANGE = (18000, 18999)
PASSIVE_RANGE_SIZE = 20

PASSWORDS = {
    "rw": "rw-secret",
    "ro": "ro-secret",
    "nodel": "nodel-secret",
    "wo": "wo-secret",
    "hashed": "hashed-secret",
    "folders": "folders-secret",
}
# Storage directory (below <root>) of each user's home.
HOMES = {
    "rw": "files/rw",
    "ro": "files/rw",
    "nodel": "files/rw",
    "wo": "files/wo",
    "hashed": "files/hashed",
    "folders": "files/folders",
}


# ---------------------------------------------------------------------------------------------
# Small helpers
# ---------------------------------------------------------------------------------------------

def run(cmd, *, input=None, env=None, cwd=None, timeout=TIMEOUT, check=False):
    """Runs a program, capturing text output; never waits longer than `timeout`."""
    result = subprocess.run(
        [str(c) for c in cmd], input=input, env=env, cwd=cwd, timeout=timeout,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, encoding="utf-8", errors="replace",
        stdin=None if input is not None else subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"{cmd!r} exited {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    return result


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def random_bytes(n: int, seed: int | None = None) -> bytes:
    """Incompressible test data (seeded when a test wants it reproducible)."""
    if seed is None:
        return os.urandom(n)
    return random.Random(seed).randbytes(n)


def write_file(path: Path, data: bytes, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def make_tree(src: Path) -> dict[str, bytes]:
    """A tree to mirror: unicode names, spaces, odd characters, empty files and empty directories."""
    files = {
        "données/été.txt": "Ça fait plaisir, l'été.\n".encode(),
        "données/sub/empty2.txt": b"",
        "日本語.txt": "日本語のテキスト\n".encode() * 50,
        "with space/file name with spaces.txt": b"spaces are fine\n",
        "empty.txt": b"",
        "odd #1 (copy) [x] + 50%.txt": b"odd characters\n",
        "bin/random.bin": random_bytes(1024 * 1024 + 7),
        "bin/small.bin": random_bytes(1),
        "deep/a/b/c/d/leaf.txt": b"leaf\n",
    }
    for rel, data in files.items():
        write_file(src / rel, data)
    (src / "empty dir" / "nested" / "deeper").mkdir(parents=True)
    (src / "données" / "vide").mkdir()
    return files


def wait_for(predicate, timeout=5.0, interval=0.05):
    """Polls `predicate` until it returns a truthy value or `timeout` passes; returns the last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def tree_snapshot(root: Path) -> dict[str, tuple]:
    """Every file and directory below `root`: relative path -> ("dir",) or ("file", size, sha256)."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        base = Path(dirpath)
        for d in dirnames:
            snap[str((base / d).relative_to(root))] = ("dir",)
        for f in filenames:
            p = base / f
            snap[str(p.relative_to(root))] = ("file", p.stat().st_size, sha256_file(p))
    return snap


def url_path(vpath: str) -> str:
    return urllib.parse.quote(vpath, safe="/")


def error_code(exc: BaseException) -> int:
    """The reply code carried by an ftplib error (`error_perm('550 ...')` -> 550)."""
    text = str(exc.args[0] if exc.args else exc)
    m = re.match(r"\s*(\d{3})", text)
    return int(m.group(1)) if m else -1


def reply_code(fn, *args, **kwargs) -> tuple[int, str]:
    """Runs an ftplib call and returns (code, text) whether it succeeded or raised a reply error."""
    try:
        text = fn(*args, **kwargs)
    except ftplib.all_errors as exc:
        if not isinstance(exc, (ftplib.error_reply, ftplib.error_temp, ftplib.error_perm, ftplib.error_proto)):
            raise
        text = str(exc)
    text = text if isinstance(text, str) else str(text)
    m = re.match(r"(\d{3})", text)
    return (int(m.group(1)) if m else -1), text


def parse_pasv_port(reply: str) -> int:
    m = re.search(r"(\d+),(\d+),(\d+),(\d+),(\d+),(\d+)", reply)
    assert m, f"no address in PASV reply {reply!r}"
    nums = [int(x) for x in m.groups()]
    return nums[4] * 256 + nums[5]


def parse_epsv_port(reply: str) -> int:
    m = re.search(r"\((.)\1\1(\d+)\1\)", reply)
    assert m, f"no port in EPSV reply {reply!r}"
    return int(m.group(2))


LS_LINE = re.compile(
    r"^(?P<type>[-dl])(?P<mode>[-rwxsStT]{9})[+@.]?\s+\d+\s+\S+\s+\S+\s+(?P<size>\d+)\s+"
    r"(?P<date>[A-Z][a-z]{2}\s+\d{1,2}\s+(?:\d{1,2}:\d{2}|\d{4}))\s(?P<name>.+)$")


def parse_ls_lines(text: str) -> dict[str, dict]:
    """Parses `ls -l` style LIST output into name -> {type, size, line}; asserts every line parses.
    `.` and `..` entries, if any, are left out."""
    entries = {}
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line or line.startswith("total "):
            continue
        m = LS_LINE.match(line)
        assert m, f"LIST line not in ls -l form: {line!r}"
        if m.group("name") in (".", ".."):
            continue
        entries[m.group("name")] = {"type": m.group("type"), "size": int(m.group("size")), "line": line}
    return entries


# ---------------------------------------------------------------------------------------------
# Ports
# ---------------------------------------------------------------------------------------------

_allocated_ports: set[int] = set()


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """A port in 18000-18999 that is free now and not handed out before in this session."""
    lo, hi = PORT_RANGE
    candidates = list(range(lo, hi + 1))
    random.shuffle(candidates)
    for port in candidates:
        if port not in _allocated_ports and _port_is_free(port):
            _allocated_ports.add(port)
            return port
    raise RuntimeError("no free port in 18000-18999")


def release_ports(ports) -> None:
    """Hands ports back once their server has stopped, so a long session does not run out of the
    1,000-port range (each server takes ~22)."""
    _allocated_ports.difference_update(ports)


def free_port_range(count: int = PASSIVE_RANGE_SIZE) -> tuple[int, int]:
    """`count` consecutive free ports in 18000-18999."""
    lo, hi = PORT_RANGE
    starts = list(range(lo, hi - count + 2))
    random.shuffle(starts)
    for start in starts:
        ports = range(start, start + count)
        if any(p in _allocated_ports for p in ports):
            continue
        if all(_port_is_free(p) for p in ports):
            _allocated_ports.update(ports)
            return start, start + count - 1
    raise RuntimeError(f"no {count} consecutive free ports in 18000-18999")


# ---------------------------------------------------------------------------------------------
# Raw control connection (for bytes ftplib will not send, and replies it would not show)
# ---------------------------------------------------------------------------------------------

class RawFTP:
    """A bare control connection: sends raw lines, reads (possibly multi-line) replies."""

    def __init__(self, port: int, host: str = HOST, timeout: float = 30, source: str | None = None):
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None)
        self.buf = b""

    def close(self):
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def readline(self) -> bytes | None:
        """One line without its CRLF, or None at end of stream."""
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                if self.buf:
                    line, self.buf = self.buf, b""
                    return line
                return None
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r")

    def reply(self) -> tuple[int, str]:
        """Reads one complete reply; returns (code, full text). Raises EOFError if the stream ends."""
        first = self.readline()
        if first is None:
            raise EOFError("control connection closed")
        text = first.decode("utf-8", "replace")
        m = re.match(r"(\d{3})([ -])", text)
        assert m, f"malformed reply line {text!r}"
        code = m.group(1)
        lines = [text]
        if m.group(2) == "-":
            while True:
                line = self.readline()
                if line is None:
                    raise EOFError("control connection closed inside a multi-line reply")
                s = line.decode("utf-8", "replace")
                lines.append(s)
                if s.startswith(code + " "):
                    break
        return int(code), "\n".join(lines)

    def send(self, line: bytes | str):
        if isinstance(line, str):
            line = line.encode("utf-8")
        self.sock.sendall(line + b"\r\n")

    def cmd(self, line: bytes | str) -> tuple[int, str]:
        self.send(line)
        return self.reply()

    def login(self, user: str, password: str):
        code, text = self.cmd(f"USER {user}")
        assert code == 331, text
        code, text = self.cmd(f"PASS {password}")
        assert code == 230, text

    def at_eof(self, timeout: float = 5.0) -> bool:
        """True if the server closes the connection within `timeout` (pending data is discarded)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except (socket.timeout, TimeoutError):
            return False


# ---------------------------------------------------------------------------------------------
# FTPS (RFC 4217): test certificates and TLS clients
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TLSFiles:
    certificate: Path
    private_key: Path


def make_certificate(directory: Path, name: str = "server", common_name: str = "localhost") -> TLSFiles:
    """A fresh self-signed P-256 certificate and its key (`<name>.cert.pem`, `<name>.key.pem`)."""
    directory.mkdir(parents=True, exist_ok=True)
    files = TLSFiles(directory / f"{name}.cert.pem", directory / f"{name}.key.pem")
    run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", f"/CN={common_name}", "-keyout", files.private_key, "-out", files.certificate], check=True)
    return files


def tls_toml(files: TLSFiles, **settings) -> str:
    """A `[tls]` table for `ServerOptions.extra_toml` (settings: min_version, ciphers, or overrides)."""
    values = {"certificate": str(files.certificate), "private_key": str(files.private_key), **settings}
    return "\n[tls]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


def client_tls_context(maximum: ssl.TLSVersion | None = None) -> ssl.SSLContext:
    """A client context that accepts the self-signed test certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if maximum is not None:
        context.maximum_version = maximum
    return context


class SessionReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS whose PROT P data connections resume the control connection's TLS session, as FileZilla,
    curl and lftp do (the standard FTP_TLS starts a new session on every data connection)."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


# lftp settings for explicit FTPS with encrypted data connections (FerryServer.lftp(settings=...)).
LFTP_FTPS = [
    "set ftp:ssl-allow yes",
    "set ftp:ssl-force true",
    "set ftp:ssl-protect-data true",
    "set ftp:ssl-protect-list true",
    "set ssl:verify-certificate no",
]


# ---------------------------------------------------------------------------------------------
# The server under test
# ---------------------------------------------------------------------------------------------

def toml_str(value) -> str:
    return json.dumps(str(value), ensure_ascii=False)


USERS_TOML = """
[[user]]
name = "rw"
password = "rw-secret"
home = "local:files/rw"
authority = "RW"
delete = true

[[user]]
name = "ro"
password = "ro-secret"
home = "local:files/rw"
authority = "RO"

[[user]]
name = "nodel"
password = "nodel-secret"
home = "local:files/rw"
authority = "RW"
delete = false

[[user]]
name = "wo"
password = "wo-secret"
home = "local:files/wo"
authority = "WO"
"""

HASHED_USER_TOML = """
[[user]]
name = "hashed"
password_hash = {hash}
home = "local:files/hashed"
authority = "RW"
"""

FOLDERS_USER_TOML = """
[[user]]
name = "folders"
password = "folders-secret"
home = "local:files/folders"
authority = "RW"

[[user.folder]]
path = "/shared"
target = "local:shared/"
authority = "RO"
delete = false
"""


@dataclass
class ServerOptions:
    active_mode: bool = True
    max_connections: int = 64
    max_connections_per_ip: int = 32
    idle_timeout: str = "5m"
    max_login_failures: int = 3
    ban_time: str = "1m"
    log_level: str = "debug"
    log_format: str = "text"  # [log] format: "text" | "json"
    password_hash: str | None = None
    extra_toml: str = ""
    # More `[[user]]` tables (after the standard users) and their passwords, e.g. users on S3.
    users_toml: str = ""
    passwords: dict[str, str] = field(default_factory=dict)
    # More lines for the `[ftp]` table (e.g. `tls = "required"`); `[tls]` itself goes in extra_toml.
    ftp_toml: str = ""
    # Adds `[ftp] implicit_tls_listen` on a free port (`server.implicit_port`); needs a `[tls]` table.
    implicit_tls: bool = False
    # Serves SFTP on `server.sftp_port` (host keys from sshsupport; the standard users accept the
    # client keys `ed25519` and `rsa`), with these extra `[sftp]` lines.
    sftp: bool = True
    sftp_toml: str = ""
    # How many passive ports the server gets (each concurrent FTP transfer holds one).
    passive_port_count: int = PASSIVE_RANGE_SIZE
    # More lines for the `[limits]` table (e.g. `transfer_memory = "256MiB"`).
    limits_toml: str = ""
    # Serves GET /metrics and /healthz on `server.metrics_port`.
    metrics: bool = False
    # Starts with `--pid-file <base>/ferry.pid` (`server.pid_file`), for `ferry reload`.
    pid_file: bool = False
    # More environment variables for the process (e.g. NOTIFY_SOCKET).
    env: dict[str, str] = field(default_factory=dict)
    # The address every listener binds (a fleet member on 127.0.0.11, say).
    host: str = HOST
    # Ports chosen by the test instead of free ones: "port", "sftp_port", "metrics_port", "passive" (lo, hi).
    fixed_ports: dict = field(default_factory=dict)


def render_config(root: Path, xferlog: Path, port: int, passive: tuple[int, int], opts: ServerOptions,
                  implicit_port: int = 0, sftp_port: int = 0, metrics_port: int = 0) -> str:
    users = USERS_TOML
    if opts.password_hash:
        users += HASHED_USER_TOML.format(hash=toml_str(opts.password_hash))
    users += FOLDERS_USER_TOML
    users += opts.users_toml
    sftp = ""
    if sftp_port:
        key_lines = "[" + ", ".join(toml_str(line) for line in sshsupport.user_key_lines()) + "]"
        users = re.sub(r'(\[\[user\]\]\nname = "[^"]+"\n)', lambda m: m.group(1) + f"ssh_keys = {key_lines}\n", users)
        host_keys = "[" + ", ".join(toml_str(p) for p in sshsupport.host_key_paths()) + "]"
        sftp = (f"[sftp]\nlisten = {toml_str(f'{opts.host}:{sftp_port}')}\nhost_keys = {host_keys}\n"
                f"{opts.sftp_toml.strip()}\n")
    ftp = opts.ftp_toml.strip()
    if implicit_port:
        ftp += f"\nimplicit_tls_listen = {toml_str(f'{opts.host}:{implicit_port}')}"
    return f"""# Written by Tests/IntegrationTests/conftest.py
[ftp]
listen = {toml_str(f"{opts.host}:{port}")}
passive_ports = {toml_str(f"{passive[0]}-{passive[1]}")}
active_mode = {"true" if opts.active_mode else "false"}
{ftp}

{sftp}
[limits]
max_connections = {opts.max_connections}
max_connections_per_ip = {opts.max_connections_per_ip}
idle_timeout = {toml_str(opts.idle_timeout)}
max_login_failures = {opts.max_login_failures}
ban_time = {toml_str(opts.ban_time)}
{opts.limits_toml.strip()}

[log]
level = {toml_str(opts.log_level)}
format = {toml_str(opts.log_format)}
transfer_log = {toml_str(xferlog)}

[metrics]
listen = {toml_str(f"{opts.host}:{metrics_port}" if metrics_port else "")}

[[storage]]
name = "local"
driver = "local"
root = {toml_str(root)}
{opts.extra_toml}
{users}"""


class ServerStartError(Exception):
    pass


LIVE_SERVERS: list["FerryServer"] = []
# Every server started in this run, for the end-of-run check that no log holds a secret.
STARTED_SERVERS: list["FerryServer"] = []


class FerryServer:
    """One `ferry serve` process with its own directory, config, storage root and log."""

    def __init__(self, binary: Path, base: Path, name: str, opts: ServerOptions):
        self.binary = binary
        self.base = base
        self.name = name
        self.opts = opts
        self.root = base / "data"
        self.config_path = base / "ferry.toml"
        self.log_path = base / "ferry.log"
        self.pid_file = base / "ferry.pid"
        self.xferlog = base / "xferlog"
        self.port = 0
        self.implicit_port = 0  # the implicit-TLS listener (ServerOptions.implicit_tls)
        self.sftp_port = 0  # the SFTP listener (ServerOptions.sftp)
        self.metrics_port = 0  # GET /metrics (ServerOptions.metrics)
        self.passive = (0, 0)
        self.proc: subprocess.Popen | None = None
        self.stopped_by_us = False
        self.passwords = {**PASSWORDS, **opts.passwords}
        self.host = opts.host

    # -- lifecycle --------------------------------------------------------------------------

    def prepare_storage(self):
        for rel in set(HOMES.values()) | {"shared"}:
            (self.root / rel).mkdir(parents=True, exist_ok=True)

    def start(self, ready_timeout: float = 30):
        self.base.mkdir(parents=True, exist_ok=True)
        self.prepare_storage()
        last_error = None
        for attempt in range(3):
            if attempt:
                self._release_ports()  # the previous attempt's ports (one was busy after all)
            fixed = self.opts.fixed_ports
            self.port = fixed.get("port") or free_port()
            self.passive = fixed.get("passive") or free_port_range(self.opts.passive_port_count)
            self.implicit_port = free_port() if self.opts.implicit_tls else 0
            self.sftp_port = (fixed.get("sftp_port") or free_port()) if self.opts.sftp else 0
            self.metrics_port = (fixed.get("metrics_port") or free_port()) if self.opts.metrics else 0
            self.config_path.write_text(
                render_config(self.root, self.xferlog, self.port, self.passive, self.opts, self.implicit_port,
                              self.sftp_port, self.metrics_port),
                encoding="utf-8")
            with open(self.log_path, "ab") as log:
                log.write(f"=== test harness: starting {self.name} on port {self.port} "
                          f"(attempt {attempt + 1})\n".encode())
                log.flush()
                pid_args = ["--pid-file", str(self.pid_file)] if self.opts.pid_file else []
                self.proc = subprocess.Popen(
                    [str(self.binary), "serve", "--config", str(self.config_path), *pid_args],
                    cwd=self.base, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    env={**os.environ, **self.opts.env} if self.opts.env else None,
                    start_new_session=True)  # signals for the test run's process group are not for it
            try:
                self._wait_ready(ready_timeout)
                LIVE_SERVERS.append(self)
                if self not in STARTED_SERVERS:
                    STARTED_SERVERS.append(self)
                return self
            except ServerStartError as exc:
                last_error = exc
                self._kill()
                if "in use" not in self.log_text().lower():
                    break  # not a port race: retrying would not help
        raise ServerStartError(f"{last_error}\n--- {self.log_path} ---\n{tail(self.log_text(), 80)}")

    def _wait_ready(self, timeout: float):
        deadline = time.monotonic() + timeout
        last = "no connection"
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise ServerStartError(f"ferry serve exited with {self.proc.returncode} during startup")
            try:
                with socket.create_connection((self.host, self.port), timeout=2) as s:
                    s.settimeout(5)
                    data = b""
                    while b"\n" not in data:
                        chunk = s.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    if data.startswith(b"220"):
                        with contextlib.suppress(OSError):
                            s.sendall(b"QUIT\r\n")
                            s.recv(4096)
                        if not self.sftp_port or self._ssh_banner_ok():
                            return
                        last = "SFTP listener not ready"
                    last = f"greeting {data[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.1)
        raise ServerStartError(f"ferry serve not ready after {timeout}s on port {self.port} ({last})")

    def _ssh_banner_ok(self) -> bool:
        try:
            with socket.create_connection((self.host, self.sftp_port), timeout=2) as s:
                s.settimeout(5)
                return s.recv(256).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def _kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(10)

    def _release_ports(self):
        ports = [self.port, self.implicit_port, self.sftp_port, self.metrics_port,
                 *range(self.passive[0], self.passive[1] + 1)]
        release_ports([p for p in ports if p])

    def stop(self, grace: float = 15) -> str | None:
        """Stops with SIGTERM; returns a problem description (crash, no exit on SIGTERM) or None."""
        if self in LIVE_SERVERS:
            LIVE_SERVERS.remove(self)
        if self.proc is None:
            return None
        problem = self._stop(grace)
        self._release_ports()  # only once the process is gone
        return problem

    def _stop(self, grace: float) -> str | None:
        problem = None
        if self.proc.poll() is not None:
            if self.stopped_by_us:  # a test stopped it on purpose
                return None
            problem = f"ferry serve ({self.name}) died during the tests with exit code {self.proc.returncode}"
        else:
            self.stopped_by_us = True
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                problem = f"ferry serve ({self.name}) did not exit within {grace}s of SIGTERM"
                self._kill()
        return problem

    # -- reload ---------------------------------------------------------------------------------

    def rewrite_config(self, **changes):
        """Changes ServerOptions fields and writes the configuration again (same ports); a running
        server sees it at its next reload."""
        for key, value in changes.items():
            assert hasattr(self.opts, key), key
            setattr(self.opts, key, value)
        self.passwords = {**PASSWORDS, **self.opts.passwords}
        self.config_path.write_text(
            render_config(self.root, self.xferlog, self.port, self.passive, self.opts, self.implicit_port,
                          self.sftp_port, self.metrics_port), encoding="utf-8")

    def reload(self, timeout: float = 15) -> tuple[bool, str]:
        """SIGHUP, then waits for the reload's outcome in the log: (applied?, the log since the signal)."""
        offset = self.log_size()
        self.proc.send_signal(signal.SIGHUP)
        return self.await_reload(offset, timeout)

    def await_reload(self, offset: int, timeout: float = 15) -> tuple[bool, str]:
        outcome = {}

        def finished():
            text = self.log_text(offset)
            if "configuration reloaded" in text:
                outcome["ok"] = True
            elif "configuration reload failed" in text:
                outcome["ok"] = False
            return bool(outcome)

        assert wait_for(finished, timeout=timeout), f"no reload outcome in the log:\n{self.log_text(offset)[-2000:]}"
        time.sleep(0.05)  # the error lines follow the summary line
        return outcome["ok"], self.log_text(offset)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    # -- logs -------------------------------------------------------------------------------

    def log_size(self) -> int:
        try:
            return self.log_path.stat().st_size
        except FileNotFoundError:
            return 0

    def log_text(self, since: int = 0) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(since)
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def xferlog_lines(self) -> list[str]:
        try:
            return self.xferlog.read_text(encoding="utf-8", errors="replace").splitlines()
        except FileNotFoundError:
            return []

    # -- storage ----------------------------------------------------------------------------

    def http_get(self, path: str) -> tuple[int, str]:
        """GET on the metrics listener (ServerOptions.metrics): (status, body)."""
        assert self.metrics_port, "start the server with metrics=True"
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.metrics_port}{path}", timeout=10) as answer:
                return answer.status, answer.read().decode()
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    def home(self, user: str) -> Path:
        return self.root / HOMES[user]

    def upload_leftovers(self) -> list[Path]:
        """Files below `<root>/.ferry-uploads` (in-progress uploads); empty when nothing is left."""
        d = self.root / ".ferry-uploads"
        if not d.exists():
            return []
        return [p for p in d.rglob("*") if not p.is_dir()]

    # -- clients ----------------------------------------------------------------------------

    def ftp(self, user: str = "rw", password: str | None = None, timeout: float = 30) -> ftplib.FTP:
        f = ftplib.FTP(encoding="utf-8")
        f.connect(self.host, self.port, timeout=timeout)
        f.login(user, self.passwords[user] if password is None else password)
        return f

    def ftps(self, user: str = "rw", password: str | None = None, timeout: float = 30, reuse_session: bool = True,
             prot_p: bool = True, context: ssl.SSLContext | None = None,
             cls: type[ftplib.FTP_TLS] | None = None) -> ftplib.FTP_TLS:
        """A logged-in explicit-FTPS session (AUTH TLS, then PBSZ 0 + PROT P unless `prot_p=False`).
        `reuse_session=False` gives the standard FTP_TLS, whose data connections do NOT resume the
        control connection's TLS session; `cls` another FTP_TLS subclass."""
        cls = cls or (SessionReusingFTP_TLS if reuse_session else ftplib.FTP_TLS)
        f = cls(context=context or client_tls_context(), encoding="utf-8")
        f.connect(self.host, self.port, timeout=timeout)
        try:
            f.login(user, self.passwords[user] if password is None else password)  # AUTH TLS first
            if prot_p:
                f.prot_p()
        except BaseException:
            f.close()
            raise
        return f

    def raw(self, timeout: float = 30, source: str | None = None) -> RawFTP:
        return RawFTP(self.port, host=self.host, timeout=timeout, source=source)

    def url(self, vpath: str) -> str:
        return f"ftp://{self.host}:{self.port}{url_path(vpath)}"

    def curl(self, *args, user: str = "rw", timeout: float = TIMEOUT):
        """Runs curl against this server (as `user`), returning the CompletedProcess."""
        return run(["curl", "-sS", "--max-time", str(timeout - 5), "-u", f"{user}:{self.passwords[user]}", *args],
                   timeout=timeout)

    def curl_bytes(self, *args, user: str = "rw") -> subprocess.CompletedProcess:
        return subprocess.run(
            ["curl", "-sS", "--max-time", str(TIMEOUT - 5), "-u", f"{user}:{self.passwords[user]}", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=TIMEOUT)

    def lftp(self, commands: str, user: str = "rw", home: Path | None = None, settings: list[str] = (),
             timeout: float = TIMEOUT):
        """Runs lftp non-interactively: settings, open, then `commands` (stops at the first error).
        `settings` come after the defaults (plain FTP), e.g. LFTP_FTPS for explicit FTPS."""
        defaults = [
            "set cmd:fail-exit yes",
            "set ftp:passive-mode on",
            "set ftp:ssl-allow no",
            "set ftp:charset utf-8",
            "set file:charset utf-8",
            "set net:max-retries 2",
            "set net:timeout 20",
            "set net:reconnect-interval-base 1",
            "set net:reconnect-interval-max 2",
            "set net:persist-retries 0",
            "set xfer:clobber on",
        ]
        script = "; ".join(defaults + list(settings) + [f"open -u {user},{self.passwords[user]} -p {self.port} {self.host}", commands])
        env = dict(os.environ, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        if home is not None:  # keep the user's ~/.lftp out of the test
            home.mkdir(parents=True, exist_ok=True)
            env["HOME"] = str(home)
        return run(["lftp", "-c", script], env=env, timeout=timeout)


def tail(text: str, lines: int) -> str:
    parts = text.splitlines()
    if len(parts) <= lines:
        return text
    return f"[... {len(parts) - lines} earlier lines in the log file ...]\n" + "\n".join(parts[-lines:])


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def ferry_bin() -> Path:
    path = Path(os.environ.get("FERRY_BIN") or REPO / ".build" / "debug" / "ferry")
    if not path.is_file() or not os.access(path, os.X_OK):
        pytest.fail(f"ferry binary not found at {path} (build it, or set FERRY_BIN)", pytrace=False)
    return path


@pytest.fixture(scope="session")
def tls_cert(tmp_path_factory) -> TLSFiles:
    """A self-signed certificate and key for FTPS test servers (CN=localhost, valid 2 days)."""
    return make_certificate(tmp_path_factory.mktemp("tls"))


@dataclass
class HashResult:
    hash: str | None
    problem: str | None = None


@pytest.fixture(scope="session")
def hashed_password(ferry_bin) -> HashResult:
    """`ferry hash-password` of 'hashed-secret' (None with the reason if the command failed, so that
    only the tests of user `hashed` fail and not the whole suite)."""
    try:
        r = run([ferry_bin, "hash-password"], input=PASSWORDS["hashed"] + "\n")
    except subprocess.TimeoutExpired:
        return HashResult(None, "ferry hash-password timed out")
    lines = [line.strip() for line in r.stdout.splitlines() if line.strip().startswith("$")]
    if r.returncode != 0 or not lines:
        return HashResult(None, f"ferry hash-password exited {r.returncode}: "
                                f"stdout={r.stdout!r} stderr={r.stderr!r}")
    return HashResult(lines[-1])


@pytest.fixture(scope="session")
def ferry(ferry_bin, hashed_password, tmp_path_factory) -> FerryServer:
    """The main server with the standard configuration, shared by the whole session."""
    server = FerryServer(ferry_bin, tmp_path_factory.mktemp("ferry-main"), "main",
                         ServerOptions(password_hash=hashed_password.hash))
    try:
        server.start()
    except ServerStartError as exc:
        pytest.fail(f"could not start the main ferry server: {exc}", pytrace=False)
    yield server
    problem = server.stop()
    if problem:
        pytest.fail(f"{problem}\n--- {server.log_path} ---\n{tail(server.log_text(), 80)}", pytrace=False)


class ServerFactory:
    """Starts servers with special settings below `base`; `stop_all()` stops them again."""

    def __init__(self, binary: Path, base: Path, name: str, what: str):
        self.binary = binary
        self.base = base
        self.name = name
        self.what = what
        self.started: list[FerryServer] = []
        self.counter = itertools.count(1)

    def __call__(self, **options) -> FerryServer:
        n = next(self.counter)
        server = FerryServer(self.binary, self.base / f"server{n}", f"{self.name}#{n}", ServerOptions(**options))
        self.started.append(server)
        try:
            server.start()
        except ServerStartError as exc:
            pytest.fail(f"could not start ferry for {self.what}: {exc}", pytrace=False)
        return server

    def stop_all(self):
        problems = [p for p in (s.stop() for s in self.started) if p]
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def ferry_factory(ferry_bin, tmp_path, request):
    """`ferry_factory(**ServerOptions fields)` starts a server of the test's own; stopped afterwards."""
    factory = ServerFactory(ferry_bin, tmp_path, request.node.name, "this test")
    yield factory
    factory.stop_all()


@pytest.fixture(scope="module")
def ferry_module_factory(ferry_bin, tmp_path_factory, request):
    """Like `ferry_factory`, for servers shared by the tests of one module (stopped after them)."""
    name = request.module.__name__
    factory = ServerFactory(ferry_bin, tmp_path_factory.mktemp(name), name, f"module {name}")
    yield factory
    factory.stop_all()


@dataclass
class Area:
    """A directory of a test's own: `vpath` as the client sees it, `path` on disk."""
    vpath: str
    path: Path
    server: FerryServer = field(repr=False)

    def v(self, *names: str) -> str:
        return "/".join([self.vpath.rstrip("/"), *names])

    def p(self, *names: str) -> Path:
        return self.path.joinpath(*names)


_area_counter = itertools.count(1)


def new_area(server: FerryServer, label: str, home: str = "rw") -> Area:
    """A fresh directory named after `label` below `home`'s root on `server`, created on disk."""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", label).strip("-")[:50]
    name = f"t-{name}-{next(_area_counter)}"
    path = server.home(home) / name
    path.mkdir(parents=True)
    return Area(vpath=f"/{name}", path=path, server=server)


@pytest.fixture
def make_area(ferry, request):
    """`make_area(home="rw")`: a fresh directory below that home's root, created on disk."""
    def make(home: str = "rw") -> Area:
        return new_area(ferry, request.node.name, home)
    return make


@pytest.fixture
def area(make_area) -> Area:
    return make_area("rw")


@pytest.fixture
def ftp_login(ferry):
    """`ftp_login(user="rw", server=None)`: a logged-in ftplib.FTP, closed after the test."""
    opened: list[ftplib.FTP] = []

    def login(user: str = "rw", server: FerryServer | None = None, password: str | None = None) -> ftplib.FTP:
        f = (server or ferry).ftp(user, password)
        opened.append(f)
        return f

    yield login
    for f in opened:
        with contextlib.suppress(Exception):
            f.close()


# ---------------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class S3Target:
    endpoint: str
    access_key: str
    secret_key: str
    region: str
    bucket: str


def s3_target_from_env() -> S3Target | None:
    endpoint = os.environ.get("S3_ENDPOINT", "").strip()
    if not endpoint:
        return None
    return S3Target(endpoint=endpoint.rstrip("/"),
                    access_key=os.environ.get("S3_ACCESS_KEY", "testkey"),
                    secret_key=os.environ.get("S3_SECRET_KEY", "testsecret"),
                    region=os.environ.get("S3_REGION", "us-east-1"),
                    bucket=os.environ.get("FERRY_IT_BUCKET", "ferry-it"))


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    return toml_str(value)


def s3_storage_toml(name: str, target: S3Target, endpoint: str | None = None, **settings) -> str:
    """A `[[storage]]` table for the S3 driver (endpoint: S3 itself unless given, e.g. a proxy's URL).
    Defaults: path addressing, 5 MiB parts, 2 parts in flight, 2 GiB objects at most."""
    values = {"name": name, "driver": "s3", "endpoint": endpoint or target.endpoint, "region": target.region,
              "access_key": target.access_key, "secret_key": target.secret_key, "addressing": "path",
              "part_size": "5MiB", "upload_concurrency": 2, "max_object_size": "2GiB"}
    values.update(settings)
    return "\n[[storage]]\n" + "".join(f"{k} = {_toml_value(v)}\n" for k, v in values.items())


def user_toml(name: str, password: str, home: str, authority: str = "RW", delete: bool = True) -> str:
    return (f"\n[[user]]\nname = {toml_str(name)}\npassword = {toml_str(password)}\nhome = {toml_str(home)}\n"
            f"authority = {toml_str(authority)}\ndelete = {_toml_value(delete)}\n")


def unique_prefix(label: str) -> str:
    """A key prefix no other test (nor an earlier run) uses: `it-<label>-<random>`."""
    label = re.sub(r"[^A-Za-z0-9-]+", "-", label).strip("-")[:40]
    return f"it-{label}-{uuid.uuid4().hex[:10]}"


class S3Bucket:
    """boto3 on the test bucket: what is really in S3, seen without Ferry."""

    def __init__(self, client, name: str):
        self.client = client
        self.name = name

    def objects(self, prefix: str) -> dict[str, dict]:
        """Every key below `prefix` (ListObjectsV2 WITHOUT delimiter, every page; see design.md §3):
        key -> {"size", "etag"}."""
        found = {}
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.name, Prefix=prefix):
            for obj in page.get("Contents", []):
                found[obj["Key"]] = {"size": obj["Size"], "etag": obj["ETag"].strip('"')}
        return found

    def head(self, key: str) -> dict | None:
        from botocore.exceptions import ClientError
        try:
            return self.client.head_object(Bucket=self.name, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def get(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def sha256(self, key: str) -> tuple[str, int]:
        """(sha256 hex, size) of an object, streamed."""
        body = self.client.get_object(Bucket=self.name, Key=key)["Body"]
        h = hashlib.sha256()
        size = 0
        for chunk in body.iter_chunks(1 << 20):
            h.update(chunk)
            size += len(chunk)
        return h.hexdigest(), size

    def put(self, key: str, data: bytes = b""):
        self.client.put_object(Bucket=self.name, Key=key, Body=data)

    def put_many(self, items: dict[str, bytes], threads: int = 16):
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(lambda kv: self.put(*kv), items.items()))

    def pending_uploads(self, prefix: str) -> list[tuple[str, str]]:
        """Multipart uploads started and neither completed nor aborted: (key, upload id)."""
        found = []
        for page in self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.name, Prefix=prefix):
            found += [(u["Key"], u["UploadId"]) for u in page.get("Uploads", [])]
        return found

    def delete_prefix(self, prefix: str):
        """Aborts the pending uploads and deletes every object below `prefix`."""
        assert prefix.strip("/"), "refusing to empty the whole bucket"
        for key, upload_id in self.pending_uploads(prefix):
            with contextlib.suppress(Exception):
                self.client.abort_multipart_upload(Bucket=self.name, Key=key, UploadId=upload_id)
        keys = list(self.objects(prefix))
        for start in range(0, len(keys), 1000):
            self.client.delete_objects(Bucket=self.name, Delete={
                "Objects": [{"Key": k} for k in keys[start:start + 1000]], "Quiet": True})


@pytest.fixture(scope="session")
def s3_target() -> S3Target:
    target = s3_target_from_env()
    if target is None:
        reason = ("S3_ENDPOINT is not set: the S3 tests need a real S3 server (`make test` starts SeaweedFS "
                  "through scripts/with-s3; by hand: set S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY and "
                  "FERRY_IT_BUCKET, or FERRY_S3_OPTIONAL=1 to skip them)")
        if os.environ.get("FERRY_S3_OPTIONAL") == "1":
            pytest.skip(reason)
        pytest.fail(reason, pytrace=False)
    return target


@pytest.fixture(scope="session")
def marker_keeping_s3() -> S3Target:
    """A second S3 server, moto (PyPI `moto[server]`, pinned by `make test-deps`), started by the
    test bed's `s3-up` once per run and only when a test asks for it: unlike SeaweedFS it keeps the
    metadata of directory markers (`dir/`), as AWS does, so the path that stores a directory's time
    runs against a real server. It does not check signatures."""
    testbed = Path(os.environ.get("SHARED", str(Path(__file__).resolve().parents[3] / "shared"))) / "testbed"
    port, _ = free_port_range(8)  # s3-up checks the port and the 7 after it
    bucket = "ferry-markers"
    started = subprocess.run([str(testbed / "s3-up"), "--backend", "moto", "--port", str(port), "--fresh", bucket],
                             capture_output=True, text=True, timeout=300)
    if started.returncode != 0:
        pytest.fail(f"moto did not start: {started.stderr[-2000:]}", pytrace=False)
    settings = dict(line.split("=", 1) for line in started.stdout.splitlines() if "=" in line)
    try:
        yield S3Target(endpoint=settings["S3_ENDPOINT"].rstrip("/"), access_key=settings["S3_ACCESS_KEY"],
                       secret_key=settings["S3_SECRET_KEY"], region=settings["S3_REGION"], bucket=bucket)
    finally:
        subprocess.run([str(testbed / "s3-down"), "--port", str(port), "--wipe"], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def s3_bucket(s3_target) -> S3Bucket:
    import boto3
    from botocore.config import Config
    client = boto3.client(
        "s3", endpoint_url=s3_target.endpoint, aws_access_key_id=s3_target.access_key,
        aws_secret_access_key=s3_target.secret_key, region_name=s3_target.region,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}, max_pool_connections=32,
                      retries={"max_attempts": 3, "mode": "standard"}, connect_timeout=10, read_timeout=60))
    try:
        client.head_bucket(Bucket=s3_target.bucket)
    except Exception as exc:  # noqa: BLE001 - any failure here means the S3 tests cannot run
        pytest.fail(f"S3 at {s3_target.endpoint} is not usable (bucket {s3_target.bucket}): {exc!r}", pytrace=False)
    return S3Bucket(client, s3_target.bucket)


LIVE_PROXIES: list[FaultProxy] = []


@pytest.fixture
def fault_proxy(s3_target):
    """`fault_proxy(mode="pass"|"faults", fault=..., every=5, phase=1)`: a started `FaultProxy` in
    front of S3 on a free port; stopped after the test."""
    started: list[FaultProxy] = []

    def start(**options) -> FaultProxy:
        last = None
        for _ in range(5):
            proxy = FaultProxy(s3_target.endpoint, port=free_port(), **options)
            try:
                proxy.start()
            except OSError as exc:  # lost a race for the port
                last = exc
                continue
            started.append(proxy)
            LIVE_PROXIES.append(proxy)
            return proxy
        pytest.fail(f"could not start the fault proxy: {last}", pytrace=False)

    yield start
    for proxy in started:
        proxy.stop()
        LIVE_PROXIES.remove(proxy)


# ---------------------------------------------------------------------------------------------
# Server logs in failure reports
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="session", autouse=True)
def _no_secret_in_any_log():
    """After the whole run: no server's log holds a configured password or the S3 secret key
    (passwords are masked in the command log, credentials never logged). Fails the run otherwise."""
    yield
    target = s3_target_from_env()
    secrets = {secret for server in STARTED_SERVERS for secret in server.passwords.values()}
    if target:
        secrets.add(target.secret_key)
    secrets = {secret for secret in secrets if len(secret) >= 6}  # too short to be told from other text
    leaks = []
    for server in STARTED_SERVERS:
        if not server.log_path.exists():
            continue
        text = server.log_path.read_text(encoding="utf-8", errors="replace")
        leaks += [f"{server.log_path}: {secret!r}" for secret in sorted(secrets) if secret in text]
    checked = sum(1 for server in STARTED_SERVERS if server.log_path.exists())
    print(f"\nsecrets check: {len(secrets)} secrets, {checked} server logs, {len(leaks)} leaks")
    if leaks:
        pytest.fail("secrets in server logs:\n" + "\n".join(leaks), pytrace=False)


@pytest.fixture(autouse=True)
def _ferry_log_marks(request):
    request.node._ferry_log_marks = {id(s): s.log_size() for s in LIVE_SERVERS}
    yield


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.failed and report.when in ("setup", "call"):
        marks = getattr(item, "_ferry_log_marks", {})
        for server in list(LIVE_SERVERS):
            text = server.log_text(marks.get(id(server), 0))
            state = "running" if server.alive else f"EXITED with {server.proc.returncode}"
            report.sections.append(
                (f"ferry log during this test: {server.name}, {state} ({server.log_path})", tail(text, 150)))
        for proxy in list(LIVE_PROXIES):
            report.sections.append((f"fault proxy {proxy.url}", proxy.summary()))
    return report
