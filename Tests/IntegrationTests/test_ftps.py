"""FTPS (RFC 4217): explicit AUTH TLS and implicit TLS with curl, lftp, Python's ftplib.FTP_TLS and
`openssl s_client`; PROT P on every kind of data connection, the session-reuse policy, tls = required
and off, the close_notify rule for uploads, and check-config on bad certificate/key pairs.

The servers use local storage and a self-signed certificate (`tls_cert`); curl and lftp are told not
to verify it. Every data connection's TLS version, cipher and resumption show in Ferry's debug log,
which some tests read to make sure that what was asked for really happened on the wire."""

from __future__ import annotations

import contextlib
import ftplib
import io
import os
import re
import socket
import ssl
import struct
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import (HOST, LFTP_FTPS, ServerOptions, SessionReusingFTP_TLS, TLSFiles, client_tls_context,
                      error_code, make_certificate, make_tree, new_area, parse_ls_lines, random_bytes, render_config,
                      reply_code, run, sha256, sha256_file, tls_toml, tree_snapshot, wait_for, write_file)

MiB = 1024 * 1024

# ---------------------------------------------------------------------------------------------
# Servers (one of each kind for the whole module)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ftps_server(ferry_module_factory, tls_cert):
    """[tls] with the defaults: tls = "optional", tls_session_reuse = "required"; plus an implicit-TLS
    listener on `implicit_port`."""
    return ferry_module_factory(extra_toml=tls_toml(tls_cert), implicit_tls=True)


@pytest.fixture(scope="module")
def ftps_reuse_allowed(ferry_module_factory, tls_cert):
    return ferry_module_factory(extra_toml=tls_toml(tls_cert), ftp_toml='tls_session_reuse = "allowed"')


@pytest.fixture(scope="module")
def ftps_required(ferry_module_factory, tls_cert):
    return ferry_module_factory(extra_toml=tls_toml(tls_cert), ftp_toml='tls = "required"')


@pytest.fixture(scope="module")
def ftps_off(ferry_module_factory, tls_cert):
    """A [tls] section, but `tls = "off"`: FTPS must stay off."""
    return ferry_module_factory(extra_toml=tls_toml(tls_cert), ftp_toml='tls = "off"')


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

FTPS_CURL = ["--ssl-reqd", "-k"]


def data_connection_lines(log: str) -> list[str]:
    """Ferry's debug lines for PROT P data connections (TLS version, cipher, resumed)."""
    return [line for line in log.splitlines() if "data connection protected" in line]


def retr_bytes(f: ftplib.FTP, cmd: str) -> bytes:
    buf = io.BytesIO()
    f.retrbinary(cmd, buf.write)
    return buf.getvalue()


def transfer_outcome(f: ftplib.FTP, cmd: str) -> tuple[int, str]:
    """Runs a transfer command whose data connection the server may refuse or drop, and returns the
    final reply (code, text): the refusal itself, or the reply after the data connection ended."""
    try:
        conn = f.transfercmd(cmd)
    except (ftplib.error_reply, ftplib.error_temp, ftplib.error_perm) as exc:
        return error_code(exc), str(exc)
    except (ssl.SSLError, OSError):
        pass  # the data connection's handshake failed: the control connection says why
    else:
        with contextlib.suppress(ssl.SSLError, OSError):
            while conn.recv(65536):
                pass
        conn.close()
    return reply_code(f.getresp)


class ImplicitFTP_TLS(SessionReusingFTP_TLS):
    """Implicit FTPS: TLS from the first byte; PROT P is implied, so neither PBSZ nor PROT is sent."""

    def connect(self, host="", port=0, timeout=-999, source_address=None):
        self.host, self.port, self.timeout = host, port, timeout
        raw = socket.create_connection((host, port), timeout)
        self.sock = self.context.wrap_socket(raw, server_hostname=host)
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self._prot_p = True
        self.welcome = self.getresp()
        return self.welcome


@pytest.fixture
def opened():
    """`opened(ftp)` registers an ftplib session to be closed after the test."""
    sessions: list[ftplib.FTP] = []

    def register(f: ftplib.FTP) -> ftplib.FTP:
        sessions.append(f)
        return f

    yield register
    for f in sessions:
        with contextlib.suppress(Exception):
            f.close()


# ---------------------------------------------------------------------------------------------
# curl, explicit FTPS
# ---------------------------------------------------------------------------------------------

TLS_VERSIONS = {  # id: (curl options, the version Ferry must log)
    "tls1.2": (["--tls-max", "1.2"], "TLSv1.2"),
    "tls1.3": (["--tlsv1.3"], "TLSv1.3"),
}
PASSIVE_MODES = {  # id: (curl options, the command Ferry must see)
    "epsv": ([], "EPSV"),
    "pasv": (["--disable-epsv"], "PASV"),
}


@pytest.mark.parametrize("tls", sorted(TLS_VERSIONS))
@pytest.mark.parametrize("mode", sorted(PASSIVE_MODES))
def test_curl_list_upload_download_resume(ftps_server, tmp_path, request, mode, tls):
    server = ftps_server
    area = new_area(server, request.node.name)
    tls_args, version = TLS_VERSIONS[tls]
    mode_args, verb = PASSIVE_MODES[mode]
    args = [*FTPS_CURL, *mode_args, *tls_args]
    mark = server.log_size()

    # upload
    data = random_bytes(3 * MiB + 17)
    r = server.curl(*args, "-T", write_file(tmp_path / "up.bin", data), server.url(area.v("up.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(area.p("up.bin")) == sha256(data)

    # list
    write_file(area.p("été 1.txt"), b"x" * 10)
    r = server.curl(*args, server.url(area.vpath + "/"))
    assert r.returncode == 0, r.stderr
    entries = parse_ls_lines(r.stdout)
    assert set(entries) == {"up.bin", "été 1.txt"}, r.stdout
    assert entries["up.bin"]["size"] == len(data)

    # download
    out = tmp_path / "down.bin"
    r = server.curl(*args, "-o", out, server.url(area.v("up.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256(data)

    # resumed upload (curl: SIZE, then APPE of the rest): the server holds the first half
    full = random_bytes(5 * MiB + 123)
    write_file(area.p("resume.bin"), full[: len(full) // 2])
    r = server.curl(*args, "-C", "-", "-T", write_file(tmp_path / "full.bin", full), server.url(area.v("resume.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(area.p("resume.bin")) == sha256(full)

    # resumed download (REST + RETR): the client holds the first third
    partial = write_file(tmp_path / "partial.bin", full[: len(full) // 3])
    r = server.curl(*args, "-C", "-", "-o", partial, server.url(area.v("resume.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(partial) == sha256(full)
    assert not server.upload_leftovers()

    # Every data connection was TLS of the version asked for, resumed from the control connection,
    # and opened with the passive command asked for.
    log = server.log_text(mark)
    lines = data_connection_lines(log)
    assert len(lines) >= 5, log
    for line in lines:
        assert f"tls={version}" in line and "resumed=true" in line and "cipher=" in line, line
    assert f"verb={verb}" in log
    assert f"verb={'PASV' if verb == 'EPSV' else 'EPSV'}" not in log


def test_curl_no_sessionid_refused_when_reuse_required(ftps_server, tmp_path, request):
    server = ftps_server
    area = new_area(server, request.node.name)
    write_file(area.p("f.bin"), random_bytes(100_000))
    mark = server.log_size()
    r = server.curl(*FTPS_CURL, "--no-sessionid", server.url(area.vpath + "/"))
    assert r.returncode != 0, "a data connection that did not resume the session was accepted"
    assert "522" in r.stderr, r.stderr
    # (after RETR's 150 curl reports the closed data connection, not the 522 that follows it)
    out = tmp_path / "out.bin"
    r = server.curl(*FTPS_CURL, "--no-sessionid", "-o", out, server.url(area.v("f.bin")))
    assert r.returncode != 0 and (not out.exists() or out.stat().st_size == 0), r.stderr
    r = server.curl(*FTPS_CURL, "--no-sessionid", "-T", write_file(tmp_path / "up.bin", b"data"),
                    server.url(area.v("up.bin")))
    assert r.returncode != 0, r.stderr
    assert not area.p("up.bin").exists()
    lines = data_connection_lines(server.log_text(mark))
    assert len(lines) == 3 and all("resumed=false" in line for line in lines), lines
    # the same client with session reuse is fine
    r = server.curl(*FTPS_CURL, "-o", out, server.url(area.v("f.bin")))
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == area.p("f.bin").read_bytes()


def test_curl_no_sessionid_works_when_reuse_allowed(ftps_reuse_allowed, tmp_path, request):
    server = ftps_reuse_allowed
    area = new_area(server, request.node.name)
    args = [*FTPS_CURL, "--no-sessionid"]
    mark = server.log_size()
    data = random_bytes(2 * MiB + 1)
    r = server.curl(*args, "-T", write_file(tmp_path / "up.bin", data), server.url(area.v("up.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(area.p("up.bin")) == sha256(data)
    out = tmp_path / "down.bin"
    r = server.curl(*args, "-o", out, server.url(area.v("up.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256(data)
    r = server.curl(*args, server.url(area.vpath + "/"))
    assert r.returncode == 0, r.stderr
    assert set(parse_ls_lines(r.stdout)) == {"up.bin"}
    lines = data_connection_lines(server.log_text(mark))
    assert len(lines) == 3 and all("resumed=false" in line for line in lines), lines


def test_parallel_curl_uploads_tls13(ftps_server, tmp_path, request):
    """20 simultaneous TLS 1.3 uploads by curl, a client that never reads from an upload's data
    connection: a session ticket sent there would make its close a reset and truncate the file."""
    server = ftps_server
    area = new_area(server, request.node.name)
    files = {f"c{i:02d}.bin": random_bytes(2 * MiB + i * 150_001, seed=100 + i) for i in range(20)}
    for name, data in files.items():
        write_file(tmp_path / name, data)

    def upload(name):
        return name, server.curl(*FTPS_CURL, "--tlsv1.3", "-T", tmp_path / name, server.url(area.v(name)))

    with ThreadPoolExecutor(len(files)) as pool:
        results = list(pool.map(upload, files))
    failed = {name: (r.returncode, r.stderr) for name, r in results if r.returncode != 0}
    assert not failed, failed
    for name, data in files.items():
        assert area.p(name).stat().st_size == len(data), name
        assert sha256_file(area.p(name)) == sha256(data), name
    assert not server.upload_leftovers()


# ---------------------------------------------------------------------------------------------
# lftp
# ---------------------------------------------------------------------------------------------

def test_lftp_mirror_up_and_back(ftps_server, tmp_path, request):
    server = ftps_server
    area = new_area(server, request.node.name)
    src, back = tmp_path / "src", tmp_path / "back"
    make_tree(src)
    expected = tree_snapshot(src)
    mark = server.log_size()
    r = server.lftp(f'mirror -R --no-perms --no-umask "{src}" "{area.v("tree")}"', home=tmp_path / "home",
                    settings=LFTP_FTPS)
    assert r.returncode == 0, f"mirror -R failed\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert tree_snapshot(area.p("tree")) == expected
    assert not server.upload_leftovers()
    r = server.lftp(f'mirror --no-perms --no-umask "{area.v("tree")}" "{back}"', home=tmp_path / "home",
                    settings=LFTP_FTPS)
    assert r.returncode == 0, f"mirror failed\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert tree_snapshot(back) == expected
    # it really was FTPS, data connections included
    log = server.log_text(mark)
    assert "verb=AUTH" in log
    prot = [line for line in log.splitlines() if "verb=PROT" in line]
    assert prot and all("argument=P " in line for line in prot), prot
    n_files = sum(1 for v in expected.values() if v[0] == "file")
    assert len(data_connection_lines(log)) >= 2 * n_files, log


def test_lftp_parallel_uploads(ftps_server, tmp_path, request):
    """`mput -P 20`: 20 uploads at once, each on its own FTPS session; all intact."""
    server = ftps_server
    area = new_area(server, request.node.name)
    src = tmp_path / "src"
    files = {f"p{i:02d}.bin": random_bytes(2 * MiB + i * 157_003, seed=i) for i in range(20)}
    for name, data in files.items():
        write_file(src / name, data)
    mark = server.log_size()
    r = server.lftp(f'cd "{area.vpath}"; lcd "{src}"; mput -P 20 *.bin', home=tmp_path / "home",
                    settings=LFTP_FTPS, timeout=120)
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    for name, data in files.items():
        assert area.p(name).is_file(), name
        assert area.p(name).stat().st_size == len(data), name
        assert sha256_file(area.p(name)) == sha256(data), name
    assert not server.upload_leftovers()
    stores = [line for line in data_connection_lines(server.log_text(mark)) if area.vpath in line]
    assert len(stores) == len(files), stores
    clients = {re.search(r"client=(\S+)", line).group(1) for line in stores}
    assert len(clients) >= 10, f"the uploads were not parallel: {len(clients)} control connections"


# ---------------------------------------------------------------------------------------------
# Python ftplib.FTP_TLS
# ---------------------------------------------------------------------------------------------

def test_ftplib_prot_p_roundtrip(ftps_server, opened, request):
    server = ftps_server
    area = new_area(server, request.node.name)
    f = opened(server.ftps())
    assert isinstance(f.sock, ssl.SSLSocket)
    f.cwd(area.vpath)
    data = random_bytes(3 * MiB + 7)
    assert f.storbinary("STOR rt.bin", io.BytesIO(data)).startswith("226")
    assert sha256_file(area.p("rt.bin")) == sha256(data)
    assert f.storbinary("STOR naïve file.txt", io.BytesIO(b"caf\xc3\xa9\n")).startswith("226")
    assert area.p("naïve file.txt").read_bytes() == b"caf\xc3\xa9\n"
    assert retr_bytes(f, "RETR rt.bin") == data
    facts = dict(f.mlsd())
    assert set(facts) == {"rt.bin", "naïve file.txt"}, facts
    assert facts["rt.bin"]["type"] == "file" and facts["rt.bin"]["size"] == str(len(data))
    assert f.quit().startswith("221")


class EPRT_FTP_TLS(SessionReusingFTP_TLS):
    """Active mode with EPRT (ftplib itself sends PORT on IPv4)."""

    def makeport(self):
        listener = socket.create_server((HOST, 0), backlog=1)
        self.sendeprt(HOST, listener.getsockname()[1])
        listener.settimeout(self.timeout)
        return listener


@pytest.mark.parametrize("mode", ["port", "eprt"])
def test_ftplib_active_mode(ftps_server, opened, request, mode):
    """PROT P on active data connections: Ferry connects to the client and is still the TLS server.
    (curl 7.88 cannot do active FTPS: it never starts TLS on the connection it accepts.)"""
    server = ftps_server
    area = new_area(server, request.node.name)
    data = random_bytes(2 * MiB + 9)
    write_file(area.p("f.bin"), data)
    f = opened(server.ftps(cls=EPRT_FTP_TLS if mode == "eprt" else None))
    f.set_pasv(False)
    f.cwd(area.vpath)
    mark = server.log_size()
    lines = []
    f.retrlines("LIST", lines.append)
    assert set(parse_ls_lines("\n".join(lines))) == {"f.bin"}
    assert retr_bytes(f, "RETR f.bin") == data
    log = server.log_text(mark)
    assert f"verb={mode.upper()}" in log and "verb=PASV" not in log and "verb=EPSV" not in log, log
    lines = data_connection_lines(log)
    assert len(lines) == 2 and all("resumed=true" in line for line in lines), log


def test_lftp_active_mode_upload(ftps_server, tmp_path, request):
    """An upload and a download over PORT with PROT P."""
    server = ftps_server
    area = new_area(server, request.node.name)
    data = random_bytes(3 * MiB + 1)
    local = write_file(tmp_path / "up.bin", data)
    mark = server.log_size()
    r = server.lftp(f'cd "{area.vpath}"; put "{local}" -o up.bin; get up.bin -o "{tmp_path / "down.bin"}"',
                    home=tmp_path / "home", settings=[*LFTP_FTPS, "set ftp:passive-mode off"])
    assert r.returncode == 0, f"stdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert sha256_file(area.p("up.bin")) == sha256(data)
    assert sha256_file(tmp_path / "down.bin") == sha256(data)
    log = server.log_text(mark)
    assert "verb=PORT" in log and "verb=PASV" not in log and "verb=EPSV" not in log, log
    assert len(data_connection_lines(log)) >= 2, log


@pytest.mark.parametrize("policy", ["required", "allowed"])
def test_ftplib_without_session_reuse(ftps_server, ftps_reuse_allowed, opened, request, policy):
    """The standard FTP_TLS starts a new TLS session on each data connection: 522 when the policy is
    "required", fine when it is "allowed"."""
    server = ftps_server if policy == "required" else ftps_reuse_allowed
    area = new_area(server, request.node.name)
    data = random_bytes(500_000)
    write_file(area.p("f.bin"), data)
    f = opened(server.ftps(reuse_session=False))
    f.cwd(area.vpath)
    if policy == "required":
        # The stock client's own calls end with the 522 and its reason, not with an SSL error in
        # the middle of its TLS layer (the handshake completes, then a clean close_notify).
        for call in (lambda: f.retrbinary("RETR f.bin", lambda block: None),
                     lambda: f.retrlines("LIST", lambda line: None)):
            with pytest.raises(ftplib.error_perm) as refused:
                call()
            assert str(refused.value).startswith("522") and "session" in str(refused.value), refused.value
        # An upload's client may be writing when the data connection closes: the 522 follows anyway.
        code, text = transfer_outcome(f, "STOR new.bin")
        assert code == 522, text
        assert not area.p("new.bin").exists()
        assert f.sendcmd("NOOP").startswith("200")  # the control connection lives on
    else:
        lines = []
        f.retrlines("LIST", lines.append)
        assert set(parse_ls_lines("\n".join(lines))) == {"f.bin"}
        assert retr_bytes(f, "RETR f.bin") == data


def test_no_session_tickets_on_data_connections(ftps_reuse_allowed, opened, request):
    """TLS 1.3: the control connection gets session tickets, a data connection none (the ticket trap)."""
    server = ftps_reuse_allowed
    area = new_area(server, request.node.name)
    data = random_bytes(200_000)
    write_file(area.p("f.bin"), data)
    f = opened(server.ftps(reuse_session=False))
    assert f.sock.version() == "TLSv1.3"
    f.voidcmd("NOOP")  # tickets arrive after the handshake: read something first
    assert f.sock.session is not None and f.sock.session.has_ticket, "no ticket on the control connection"
    f.voidcmd("TYPE I")
    conn = f.transfercmd(f"RETR {area.v('f.bin')}")
    got = b""
    while chunk := conn.recv(65536):
        got += chunk
    assert got == data
    assert conn.version() == "TLSv1.3"
    assert conn.session is None or not conn.session.has_ticket, "a session ticket was sent on a data connection"
    conn.close()
    assert f.voidresp().startswith("226")


# ---------------------------------------------------------------------------------------------
# openssl s_client: session resumption on the control connection
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("version", ["-tls1_2", "-tls1_3"])
def test_s_client_session_resumption(ftps_server, tmp_path, version):
    server = ftps_server
    session_file = tmp_path / "session.pem"

    def s_client(*session_args) -> str:
        # -ign_eof: stay until the server closes after QUIT; the NOOP reply comes after any
        # TLS 1.3 session ticket, so the ticket is read (and saved) before the end.
        r = run(["openssl", "s_client", "-starttls", "ftp", "-connect", f"{HOST}:{server.port}", version,
                 "-ign_eof", *session_args], input="NOOP\r\nQUIT\r\n", timeout=30)
        out = r.stdout + r.stderr
        assert "200" in out and "221" in out, out
        return out

    first = s_client("-sess_out", session_file)
    name = "TLSv1.2" if version == "-tls1_2" else "TLSv1.3"
    assert f"New, {name}" in first, first
    assert session_file.is_file() and session_file.stat().st_size > 0
    second = s_client("-sess_in", session_file)
    assert f"Reused, {name}" in second, second


@pytest.mark.parametrize("cipher, accepted", [
    ("ECDHE-ECDSA-AES128-GCM-SHA256", True),    # forward secrecy + AEAD: in the default list
    ("ECDHE-ECDSA-AES128-SHA", False),          # CBC: not in the default list
    ("AES128-GCM-SHA256", False),               # no forward secrecy
])
def test_default_tls12_cipher_list_is_modern(ftps_server, cipher, accepted):
    r = run(["openssl", "s_client", "-starttls", "ftp", "-connect", f"{HOST}:{ftps_server.port}", "-tls1_2",
             "-cipher", cipher, "-ign_eof"], input="QUIT\r\n", timeout=30)
    out = r.stdout + r.stderr
    negotiated = f"Cipher is {cipher}" in out or f"Cipher    : {cipher}" in out
    assert negotiated == accepted, out


# ---------------------------------------------------------------------------------------------
# RFC 4217 commands; tls = required; tls = off
# ---------------------------------------------------------------------------------------------

def test_rfc4217_command_sequence(ftps_server, opened, request):
    server = ftps_server
    with server.raw() as c:
        assert c.reply()[0] == 220
        code, feat = c.cmd("FEAT")
        assert code == 211
        features = {line.strip() for line in feat.splitlines()[1:-1]}
        assert {"AUTH TLS", "PBSZ", "PROT"} <= features, feat
        assert c.cmd("PBSZ 0")[0] == 503  # before AUTH
        assert c.cmd("PROT P")[0] == 503
        code, text = c.cmd("AUTH TLS")
        assert code == 234, text
        assert not c.buf
        c.sock = client_tls_context().wrap_socket(c.sock)
        assert c.cmd("PROT P")[0] == 503  # before PBSZ
        c.login("rw", server.passwords["rw"])
        assert c.cmd("PBSZ 0")[0] == 200
        assert c.cmd("PROT P")[0] == 200
        assert c.cmd("PROT C")[0] == 200  # tls = optional allows clear data
        assert c.cmd("CCC")[0] == 534
        assert c.cmd("NOOP")[0] == 200  # still talking TLS
    # AUTH SSL is accepted too
    with server.raw() as c:
        assert c.reply()[0] == 220
        assert c.cmd("AUTH SSL")[0] == 234
        c.sock = client_tls_context().wrap_socket(c.sock)
        c.login("rw", server.passwords["rw"])
    # with tls = optional, AUTH TLS and PROT C: clear data connections work
    area = new_area(server, request.node.name)
    write_file(area.p("clear.txt"), b"clear data\n")
    f = opened(server.ftps(prot_p=False))
    f.voidcmd("PBSZ 0")
    f.prot_c()
    assert retr_bytes(f, f"RETR {area.v('clear.txt')}") == b"clear data\n"


def test_required_refuses_clear_login(ftps_required, tmp_path, request):
    server = ftps_required
    area = new_area(server, request.node.name)
    with server.raw() as c:
        assert c.reply()[0] == 220
        code, text = c.cmd("USER rw")
        assert code == 530 and "encryption" in text.lower(), text
        code, text = c.cmd(f"PASS {server.passwords['rw']}")
        assert code == 530, text
        code, feat = c.cmd("FEAT")
        assert "AUTH TLS" in feat
    # curl without --ssl-reqd does not get in, and uploads nothing
    r = server.curl(server.url(area.vpath + "/"))
    assert r.returncode == 67, (r.returncode, r.stderr)  # CURLE_LOGIN_DENIED
    r = server.curl("-T", write_file(tmp_path / "up.txt", b"clear"), server.url(area.v("up.txt")))
    assert r.returncode != 0
    assert not area.p("up.txt").exists()
    # with FTPS everything works
    data = random_bytes(1 * MiB + 3)
    r = server.curl(*FTPS_CURL, "-T", write_file(tmp_path / "up.bin", data), server.url(area.v("up.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(area.p("up.bin")) == sha256(data)


def test_required_refuses_clear_data(ftps_required, opened, request):
    server = ftps_required
    area = new_area(server, request.node.name)
    data = random_bytes(100_000)
    write_file(area.p("f.bin"), data)
    f = opened(server.ftps(prot_p=False))  # AUTH TLS and login, but neither PBSZ nor PROT yet
    f.cwd(area.vpath)
    for cmd in ("LIST", "RETR f.bin", "STOR new.bin"):
        code, text = transfer_outcome(f, cmd)
        assert code == 521, f"{cmd} without PROT P: {text}"
    f.voidcmd("PBSZ 0")
    code, text = reply_code(f.sendcmd, "PROT C")
    assert code == 521, text
    for cmd in ("LIST", "RETR f.bin", "STOR new.bin"):
        code, text = transfer_outcome(f, cmd)
        assert code == 521, f"{cmd} after PBSZ without PROT P: {text}"
    assert not area.p("new.bin").exists()
    f.prot_p()
    assert retr_bytes(f, "RETR f.bin") == data


@pytest.mark.parametrize("which", ["tls-off", "no-tls-section"])
def test_tls_off_refuses_auth(request, tmp_path, which):
    server = request.getfixturevalue("ftps_off" if which == "tls-off" else "ferry")
    with server.raw() as c:
        assert c.reply()[0] == 220
        code, feat = c.cmd("FEAT")
        assert code == 211
        assert "AUTH" not in feat and "PBSZ" not in feat and "PROT" not in feat, feat
        code, text = c.cmd("AUTH TLS")
        assert code == 502, text
        assert c.cmd("AUTH SSL")[0] == 502
        c.login("rw", server.passwords["rw"])  # still a working clear-text session
    r = server.curl(*FTPS_CURL, server.url("/"))
    assert r.returncode == 64, (r.returncode, r.stderr)  # CURLE_USE_SSL_FAILED


def test_tls_off_refuses_auth_beside_an_implicit_listener(ferry_factory, tls_cert, tmp_path):
    """`tls = "off"` with `implicit_tls_listen`: the plain port refuses AUTH TLS and does not offer it
    (it used to accept it whenever an implicit listener existed), the implicit port speaks TLS."""
    server = ferry_factory(extra_toml=tls_toml(tls_cert), ftp_toml='tls = "off"', implicit_tls=True)
    with server.raw() as c:
        assert c.reply()[0] == 220
        code, feat = c.cmd("FEAT")
        assert code == 211 and "AUTH" not in feat and "PBSZ" not in feat, feat
        code, text = c.cmd("AUTH TLS")
        assert code == 502, text
    r = server.curl("-k", f"ftps://{HOST}:{server.implicit_port}/")
    assert r.returncode == 0, r.stderr


# ---------------------------------------------------------------------------------------------
# Uploads end with close_notify
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("how", ["fin", "reset", "fin-over-existing"])
def test_upload_without_close_notify_is_aborted(ftps_server, opened, request, how):
    """A data connection that ends without TLS close_notify may be truncated: 426, nothing published."""
    server = ftps_server
    area = new_area(server, request.node.name)
    if how == "fin-over-existing":
        write_file(area.p("target.bin"), b"original content")
    f = opened(server.ftps())
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("STOR target.bin")
    conn.sendall(random_bytes(3 * MiB))
    # End the TCP connection under TLS (SSLSocket.close() sends no close_notify).
    raw = socket.socket(fileno=os.dup(conn.fileno()))
    if how == "reset":
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    else:
        raw.shutdown(socket.SHUT_RDWR)
    conn.close()
    raw.close()
    code, text = reply_code(f.getresp)
    assert code == 426, text
    assert wait_for(lambda: not server.upload_leftovers(), timeout=5), server.upload_leftovers()
    assert f.sendcmd("NOOP").startswith("200")  # the session lives on
    listed = dict(f.mlsd())
    if how == "fin-over-existing":
        assert area.p("target.bin").read_bytes() == b"original content"
        assert listed["target.bin"]["size"] == str(len(b"original content"))
    else:
        assert not area.p("target.bin").exists()
        assert "target.bin" not in listed


# ---------------------------------------------------------------------------------------------
# Implicit FTPS
# ---------------------------------------------------------------------------------------------

def test_implicit_ftps_curl(ftps_server, tmp_path, request):
    server = ftps_server
    area = new_area(server, request.node.name)
    base = f"ftps://{HOST}:{server.implicit_port}"
    mark = server.log_size()
    data = random_bytes(2 * MiB + 11)
    r = server.curl("-k", "-T", write_file(tmp_path / "up.bin", data), base + area.v("up.bin"))
    assert r.returncode == 0, r.stderr
    assert sha256_file(area.p("up.bin")) == sha256(data)
    r = server.curl("-k", base + area.vpath + "/")
    assert r.returncode == 0, r.stderr
    assert set(parse_ls_lines(r.stdout)) == {"up.bin"}
    out = tmp_path / "down.bin"
    r = server.curl("-k", "-o", out, base + area.v("up.bin"))
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256(data)
    log = server.log_text(mark)
    assert "verb=AUTH" not in log
    assert len(data_connection_lines(log)) == 3, log


def test_implicit_ftps_prot_p_implied(ftps_server, opened, request):
    """On the implicit port, data connections are TLS without PBSZ/PROT."""
    server = ftps_server
    area = new_area(server, request.node.name)
    data = random_bytes(300_000)
    write_file(area.p("f.bin"), data)
    f = opened(ImplicitFTP_TLS(context=client_tls_context(), encoding="utf-8"))
    assert f.connect(HOST, server.implicit_port, timeout=30).startswith("220")
    f.login("rw", server.passwords["rw"])
    f.cwd(area.vpath)
    lines = []
    f.retrlines("LIST", lines.append)
    assert set(parse_ls_lines("\n".join(lines))) == {"f.bin"}
    assert retr_bytes(f, "RETR f.bin") == data


# ---------------------------------------------------------------------------------------------
# check-config on bad certificate/key configurations
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def key_material(tmp_path_factory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("pki")
    a = make_certificate(d, "a")
    b = make_certificate(d, "b")
    garbage = d / "garbage.pem"
    garbage.write_text("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n")
    return {"cert_a": a.certificate, "key_a": a.private_key, "key_b": b.private_key, "garbage": garbage,
            "missing": d / "does-not-exist.pem"}


BAD_TLS_CONFIGS = {  # id: (certificate, private key, what the message must name)
    "key-does-not-match": ("cert_a", "key_b", ["tls.private_key", "does not match"]),
    "garbage-certificate": ("garbage", "key_a", ["tls.certificate", "garbage.pem"]),
    "missing-certificate": ("missing", "key_a", ["tls.certificate", "does-not-exist.pem"]),
    "missing-private-key": ("cert_a", "missing", ["tls.private_key", "does-not-exist.pem"]),
    "garbage-private-key": ("cert_a", "garbage", ["tls.private_key", "garbage.pem"]),
}


def tls_config_file(tmp_path: Path, certificate: Path, private_key: Path) -> Path:
    (tmp_path / "data").mkdir(exist_ok=True)
    text = render_config(tmp_path / "data", tmp_path / "xferlog", 2121, (30000, 30019),
                         ServerOptions(extra_toml=tls_toml(TLSFiles(certificate, private_key))))
    path = tmp_path / "ferry.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_check_config_accepts_good_certificate(ferry_bin, key_material, tmp_path):
    r = run([ferry_bin, "check-config", "--config",
             tls_config_file(tmp_path, key_material["cert_a"], key_material["key_a"])])
    assert r.returncode == 0, r.stdout + r.stderr


@pytest.mark.parametrize("case", sorted(BAD_TLS_CONFIGS))
def test_check_config_bad_tls_files(ferry_bin, key_material, tmp_path, case):
    cert, key, wanted = BAD_TLS_CONFIGS[case]
    r = run([ferry_bin, "check-config", "--config", tls_config_file(tmp_path, key_material[cert], key_material[key])])
    out = r.stdout + r.stderr
    assert r.returncode == 1, f"exit {r.returncode}, output:\n{out}"
    for text in wanted:
        assert text in out, f"message does not name {text!r}:\n{out}"
    assert "Fatal error" not in out and "Stack dump" not in out, out
