"""Security: path traversal, FTP bounce (PORT/EPRT), pre-login commands, malformed command lines,
the login-failure defender, idle timeout and connection limits."""

import ftplib
import io
import os
import select
import socket
import time
import uuid

import pytest

from conftest import HOST, RawFTP, parse_ls_lines, reply_code, write_file

# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------


def final_reply(c: RawFTP) -> tuple[int, str]:
    """Reads replies until a non-preliminary (>= 200) one."""
    while True:
        code, text = c.reply()
        if code >= 200:
            return code, text


def accepted_connection(listener: socket.socket, wait: float) -> bool:
    """True if something connected to `listener` within `wait` seconds."""
    ready, _, _ = select.select([listener], [], [], wait)
    if ready:
        conn, _ = listener.accept()
        conn.close()
        return True
    return False


def retr_after_refused_data_command(c: RawFTP, listener: socket.socket, path: str):
    """After a refused PORT/EPRT, a transfer command must not connect to the refused address. It should
    fail at once (425/503); a server still waiting for some data connection is tolerated here."""
    c.send(f"RETR {path}")
    assert not accepted_connection(listener, 2.0), "the server connected to a refused address"
    c.sock.settimeout(5)
    try:
        code, text = final_reply(c)
    except (TimeoutError, socket.timeout):
        return
    assert code >= 400, text


def port_args(host: str, port: int) -> str:
    return ",".join(host.split(".") + [str(port // 256), str(port % 256)])


def names_in(f: ftplib.FTP, path: str = "") -> set[str]:
    lines = []
    f.retrlines(("LIST " + path).strip(), lines.append)
    return set(parse_ls_lines("\n".join(lines)))


@pytest.fixture
def outside(ferry):
    """Sentinel files outside user rw's home: beside it in the same bucket, at the storage root,
    and in another user's home."""
    tag = uuid.uuid4().hex[:8]
    paths = {
        "sibling": write_file(ferry.root / "files" / f"outside-{tag}.txt", b"SENTINEL sibling"),
        "root": write_file(ferry.root / f"rootfile-{tag}.txt", b"SENTINEL root"),
        "other_home": write_file(ferry.home("wo") / f"wo-private-{tag}.txt", b"SENTINEL other home"),
    }
    yield tag, paths
    for p in paths.values():
        p.unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Path traversal
# ---------------------------------------------------------------------------------------------

def traversal_paths(tag: str) -> list[str]:
    return [
        f"../outside-{tag}.txt",
        f"../../rootfile-{tag}.txt",
        f"/../outside-{tag}.txt",
        f"/../../rootfile-{tag}.txt",
        f"../wo/wo-private-{tag}.txt",
        f"/../wo/wo-private-{tag}.txt",
        "../../../etc/passwd",
        "../../../../../../../../etc/passwd",
        "/../../etc/passwd",
        "/../../../../../../../../etc/passwd",
        f"%2e%2e/outside-{tag}.txt",
        "%2e%2e/%2e%2e/%2e%2e/etc/passwd",
        "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        f"..\\outside-{tag}.txt",
        "..\\..\\..\\etc\\passwd",
        "\\..\\..\\..\\etc\\passwd",
        f"....//outside-{tag}.txt",
        f"..//..//rootfile-{tag}.txt",
        f"./../outside-{tag}.txt",
        f"//../outside-{tag}.txt",
        "~/../../etc/passwd",
        "~root/../../etc/passwd",
        "/etc/passwd",
    ]


@pytest.mark.parametrize("start", ["root", "area"])
def test_retr_traversal_never_leaves_home(ftp_login, area, outside, start):
    tag, _ = outside
    f = ftp_login()
    if start == "area":
        f.cwd(area.vpath)
    for path in traversal_paths(tag):
        buf = io.BytesIO()
        code, text = reply_code(f.retrbinary, f"RETR {path}", buf.write)
        assert b"SENTINEL" not in buf.getvalue() and b"root:" not in buf.getvalue(), path
        assert code == 550, f"RETR {path} -> {text}"
        for cmd in ("SIZE", "MDTM"):
            code, text = reply_code(f.sendcmd, f"{cmd} {path}")
            assert code == 550, f"{cmd} {path} -> {text}"
    assert f.sendcmd("NOOP").startswith("200")


def test_dot_dot_above_root_is_root(ftp_login, area):
    """`/..` is `/`: a path that climbs above the root is resolved inside it."""
    write_file(area.p("inside.txt"), b"inside the home")
    f = ftp_login()
    f.cwd(area.vpath)
    buf = io.BytesIO()
    f.retrbinary(f"RETR ../../..{area.vpath}/inside.txt", buf.write)
    assert buf.getvalue() == b"inside the home"
    assert f.size(f"/../../..{area.vpath}/inside.txt") == len(b"inside the home")


def test_cwd_traversal_stays_in_home(ftp_login, ferry, area, outside):
    tag, _ = outside
    # names that only a listing of the bucket, the storage root or the real file system would show
    forbidden = {f"outside-{tag}.txt", f"rootfile-{tag}.txt", f"wo-private-{tag}.txt", "etc", "passwd",
                 ".ferry-uploads"}
    f = ftp_login()
    for attempt in ["../../..", "..", "/..", "/../../../..", "../../../etc", "%2e%2e", "%2e%2e/%2e%2e",
                    "..\\..", "\\..\\..", "...", "//..//..", "~", "~root"]:
        f.cwd(area.vpath)
        code, text = reply_code(f.sendcmd, f"CWD {attempt}")
        pwd = f.pwd()
        assert pwd.startswith("/") and ".." not in pwd.split("/"), (attempt, pwd)
        if code == 250:
            # the only directories these can reach are inside the home
            assert pwd in ("/", area.vpath), (attempt, pwd)
        else:
            assert code == 550, (attempt, text)
            assert pwd == area.vpath, (attempt, pwd)
        seen = names_in(f)
        assert not seen & forbidden, (attempt, pwd, seen & forbidden)
        if pwd == "/":
            assert area.path.name in seen  # the home's own root, not the bucket above it
    # from the root itself
    f.cwd("/")
    f.sendcmd("CDUP")
    assert f.pwd() == "/"
    f.cwd("..")
    assert f.pwd() == "/"
    seen = names_in(f)
    assert area.path.name in seen and not seen & forbidden
    # %2e%2e is a plain (non-existent) name, not "..": refused
    code, _ = reply_code(f.sendcmd, "CWD %2e%2e")
    assert code == 550
    # listing paths that climb
    for path in ("../..", "/../..", "../../..", "..\\..", "%2e%2e"):
        lines = []
        code, _ = reply_code(f.retrlines, f"LIST {path}", lines.append)
        seen = set(parse_ls_lines("\n".join(lines))) if code == 226 else set()
        assert not seen & forbidden, (path, seen)
        mlsd = []
        code, _ = reply_code(f.retrlines, f"MLSD {path}", mlsd.append)
        assert not any(name in line for line in mlsd for name in forbidden if len(name) > 3), (path, mlsd)


def test_write_traversal_stays_in_home(ftp_login, ferry, area, outside):
    tag, paths = outside
    f = ftp_login()
    f.cwd(area.vpath)
    for target in (f"../../../escape-{tag}.txt", f"/../../escape-{tag}.txt", f"..\\..\\escape-{tag}.txt",
                   f"../wo/escape-{tag}.txt"):
        reply_code(f.storbinary, f"STOR {target}", io.BytesIO(b"ESCAPED"))
        reply_code(f.storbinary, f"APPE {target}", io.BytesIO(b"ESCAPED"))
    for target in (f"../../../escdir-{tag}", f"/../../escdir-{tag}"):
        reply_code(f.mkd, target)
    for target in (f"../outside-{tag}.txt", f"/../outside-{tag}.txt", f"../../rootfile-{tag}.txt",
                   f"../wo/wo-private-{tag}.txt", f"..\\outside-{tag}.txt"):
        code, _ = reply_code(f.delete, target)
        assert code == 550, target
    code, _ = reply_code(f.rmd, "../wo")
    assert code == 550
    write_file(area.p("movable.txt"), b"movable")
    for target in (f"../../../moved-{tag}.txt", f"../wo/moved-{tag}.txt"):
        reply_code(f.rename, "movable.txt", target)
        if not area.p("movable.txt").exists():  # landed inside the home: put it back for the next try
            f.rename(target, f"{area.vpath}/movable.txt")

    # the sentinels are untouched, nothing was created outside the home
    for p in paths.values():
        assert p.read_bytes().startswith(b"SENTINEL"), p
    assert ferry.home("wo").is_dir()
    rw_home = ferry.home("rw").resolve()
    for dirpath, dirnames, filenames in os.walk(ferry.root):
        for name in dirnames + filenames:
            if tag in name and "outside-" not in name and "rootfile-" not in name and "wo-private-" not in name:
                found = (os.path.join(dirpath, name))
                assert os.path.realpath(found).startswith(str(rw_home) + os.sep), f"escaped: {found}"
    assert not os.path.exists(f"/escape-{tag}.txt")


def test_symlinks_in_storage_are_not_followed(ftp_login, area):
    os.symlink("/etc", area.p("etc-link"))
    os.symlink("/etc/passwd", area.p("passwd-link"))
    f = ftp_login()
    f.cwd(area.vpath)
    for path in ("passwd-link", "etc-link/passwd"):
        buf = io.BytesIO()
        code, text = reply_code(f.retrbinary, f"RETR {path}", buf.write)
        assert code == 550 and b"root:" not in buf.getvalue(), (path, text)
    code, _ = reply_code(f.sendcmd, "CWD etc-link")
    assert code == 550


def test_nul_and_control_characters_refused(ferry, area):
    write_file(area.p("ab"), b"ab")
    with ferry.raw() as c:
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        for line in (f"RETR {area.vpath}/a\x00b".encode(), f"MKD {area.vpath}/x\x01y".encode(),
                     f"CWD {area.vpath}/\x1b[2J".encode()):
            code, text = c.cmd(line)
            assert 500 <= code <= 553, (line, text)
        assert c.cmd("NOOP")[0] == 200
    assert sorted(p.name for p in area.path.iterdir()) == ["ab"]


# ---------------------------------------------------------------------------------------------
# FTP bounce
# ---------------------------------------------------------------------------------------------

def test_port_to_foreign_address_refused(ferry, area):
    """PORT may only name the control connection's own address (127.0.0.1): 127.0.0.2 is refused,
    and no connection is ever made to it."""
    write_file(area.p("f.txt"), b"bounce payload")
    with socket.create_server(("127.0.0.2", 0)) as listener, ferry.raw() as c:
        port = listener.getsockname()[1]
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        code, text = c.cmd(f"PORT {port_args('127.0.0.2', port)}")
        assert code in (501, 504), text
        assert c.cmd("NOOP")[0] == 200
        retr_after_refused_data_command(c, listener, f"{area.vpath}/f.txt")


def test_eprt_to_foreign_address_refused(ferry, area):
    write_file(area.p("f.txt"), b"bounce payload")
    with socket.create_server(("127.0.0.2", 0)) as listener, ferry.raw() as c:
        port = listener.getsockname()[1]
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        code, text = c.cmd(f"EPRT |1|127.0.0.2|{port}|")
        assert code in (501, 504, 522), text
        assert c.cmd("NOOP")[0] == 200
        retr_after_refused_data_command(c, listener, f"{area.vpath}/f.txt")


def test_eprt_to_other_address_family_refused(ferry, area):
    write_file(area.p("f.txt"), b"bounce payload")
    try:
        listener = socket.create_server(("::1", 0), family=socket.AF_INET6)
    except OSError:
        pytest.skip("no IPv6 loopback")
    with listener, ferry.raw() as c:
        port = listener.getsockname()[1]
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        code, text = c.cmd(f"EPRT |2|::1|{port}|")
        assert code in (501, 504, 522), text
        retr_after_refused_data_command(c, listener, f"{area.vpath}/f.txt")


def test_port_low_port_and_malformed_refused(ferry):
    with socket.create_server((HOST, 0)) as listener, ferry.raw() as c:
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        assert c.cmd("PORT 127,0,0,1,0,21")[0] == 504
        assert c.cmd("PORT 127,0,0,1,3,255")[0] == 504     # 1023
        assert c.cmd("EPRT |1|127.0.0.1|80|")[0] == 504
        for bad in ("PORT 1,2,3", "PORT 127,0,0,1,300,1", "PORT a,b,c,d,e,f", "PORT",
                    "EPRT |1|127.0.0.1|", "EPRT |9|127.0.0.1|2000|", "EPRT garbage"):
            code, text = c.cmd(bad)
            assert code in (500, 501, 504, 522), (bad, text)
        # the control connection's own address with a normal port is fine
        port = listener.getsockname()[1]
        code, text = c.cmd(f"PORT {port_args(HOST, port)}")
        assert code == 200, text


# ---------------------------------------------------------------------------------------------
# Before login
# ---------------------------------------------------------------------------------------------

PRE_LOGIN_REFUSED = [
    "PWD", "XPWD", "CWD /", "CDUP", "LIST", "NLST", "MLSD", "MLST /", "RETR x", "STOR x", "APPE x", "STOU",
    "DELE x", "MKD x", "XMKD x", "RMD x", "RNFR x", "RNTO y", "SIZE x", "MDTM x", "PASV", "EPSV",
    "PORT 127,0,0,1,200,1", "EPRT |1|127.0.0.1|51201|", "TYPE I", "MODE S", "STRU F", "REST 0", "STAT",
    "ABOR",
]


def test_commands_before_login(ferry_factory):
    server = ferry_factory()  # its own instance: nothing here may count towards a ban elsewhere
    with server.raw() as c:
        assert c.reply()[0] == 220
        for cmd in PRE_LOGIN_REFUSED:
            code, text = c.cmd(cmd)
            assert code == 530, f"{cmd} before login -> {text}"
        assert c.cmd("NOOP")[0] == 200
        assert c.cmd("SYST")[0] == 215
        assert c.cmd("FEAT")[0] == 211
        assert c.cmd("HELP")[0] == 214
        assert c.cmd("OPTS UTF8 ON")[0] == 200
        # a long line and bad UTF-8 before login: 500, the connection lives on
        assert c.cmd(b"USER " + b"u" * 9000)[0] == 500
        assert c.cmd(b"USER \xc3\x28")[0] == 500
        # and login still works afterwards (530s for commands are not failed logins)
        c.login("rw", "rw-secret")
        assert c.cmd("PWD")[0] == 257
        assert c.cmd("QUIT")[0] == 221
        assert c.at_eof(5)
    with server.raw() as c:
        assert c.reply()[0] == 220
        code, text = c.cmd("AUTH TLS")  # 502 until FTPS exists, then 234: never 530
        assert code in (234, 502, 504), text


def test_pass_without_user(ferry_factory):
    server = ferry_factory()
    with server.raw() as c:
        assert c.reply()[0] == 220
        code, text = c.cmd("PASS rw-secret")
        assert code in (503, 530), text
        assert c.cmd("PWD")[0] == 530


# ---------------------------------------------------------------------------------------------
# Malformed command lines
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("length", [9000, 70000])
def test_overlong_line_gets_500_and_session_continues(ferry, area, length):
    with ferry.raw() as c:
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        c.cmd(f"CWD {area.vpath}")
        code, text = c.cmd(b"MKD " + b"x" * length)
        assert code == 500, text[:200]
        code, text = c.cmd("NOOP")
        assert code == 200, text
        assert c.cmd("PWD")[1].startswith(f'257 "{area.vpath}"')
    assert list(area.path.iterdir()) == []


@pytest.mark.parametrize("bad", [b"\xc3\x28", b"\xc0\xaf", b"\xed\xa0\x80", b"\xfe\xfe", b"abc\x80def",
                                 b"\xf8\x88\x80\x80\x80"])
def test_invalid_utf8_gets_500_and_session_continues(ferry, area, bad):
    with ferry.raw() as c:
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        code, text = c.cmd(f"MKD {area.vpath}/".encode() + bad)
        assert code == 500, text
        code, text = c.cmd(b"STOR " + bad)
        assert code == 500, text
        assert c.cmd("NOOP")[0] == 200
        assert c.cmd("PWD")[0] == 257
    assert list(area.path.iterdir()) == []


def test_utf8_names_work(ftp_login, area):
    """The other side of the UTF-8 check: valid multi-byte names are fine."""
    f = ftp_login()
    f.cwd(area.vpath)
    for name in ("été.txt", "日本語.txt", "emoji-🚀.txt", "Ünïcödé dir"):
        if name.endswith(".txt"):
            f.storbinary(f"STOR {name}", io.BytesIO(name.encode()))
            assert area.p(name).read_bytes() == name.encode()
        else:
            f.mkd(name)
            assert area.p(name).is_dir()
    assert {"été.txt", "日本語.txt", "emoji-🚀.txt", "Ünïcödé dir"} <= names_in(f)


# ---------------------------------------------------------------------------------------------
# Defender, idle timeout, connection limits (servers of their own)
# ---------------------------------------------------------------------------------------------

def failed_login(server, user: str, password: str) -> tuple[str, float]:
    with server.raw() as c:
        code, text = c.reply()
        assert code == 220, text
        code, text = c.cmd(f"USER {user}")
        assert code == 331, f"USER {user} -> {text} (must not reveal whether the user exists)"
        start = time.monotonic()
        code, text = c.cmd(f"PASS {password}")
        elapsed = time.monotonic() - start
        assert code == 530, text
        return text, elapsed


def test_defender_bans_after_failures(ferry_factory):
    server = ferry_factory(max_login_failures=3, ban_time="1m")
    # a good login first: it does not count
    with server.raw() as c:
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        c.cmd("QUIT")

    text1, t1 = failed_login(server, "rw", "wrong-password")
    text2, t2 = failed_login(server, "no-such-user", "whatever")
    assert "login incorrect" in text1.lower(), text1
    assert text1 == text2, "the reply must not reveal whether the user exists"
    assert t1 >= 0.5 and t2 >= 0.5, f"failed logins are not delayed ({t1:.2f}s, {t2:.2f}s)"
    failed_login(server, "rw", "wrong-again")  # the third failure: the connection was still accepted

    with server.raw(timeout=15) as c:
        code, text = c.reply()
        assert code == 421, f"banned address got {text!r}"
        assert c.at_eof(10), "a banned connection must be closed"
    # the correct password does not help while banned
    with server.raw(timeout=15) as c:
        code, text = c.reply()
        assert code == 421, text


def test_defender_counts_failures_within_one_connection(ferry_factory):
    server = ferry_factory(max_login_failures=3, ban_time="1m")
    with server.raw(timeout=20) as c:
        assert c.reply()[0] == 220
        for i in range(3):
            try:
                code, _ = c.cmd("USER rw")
            except (EOFError, ConnectionError):
                break  # the server may hang up on repeated failures
            if code != 331:
                break
            code, text = c.cmd(f"PASS wrong-{i}")
            assert code in (421, 530), text
    with server.raw(timeout=15) as c:
        code, text = c.reply()
        assert code == 421, text


def test_idle_timeout(ferry_factory):
    server = ferry_factory(idle_timeout="2s")
    with server.raw(timeout=20) as logged_in, server.raw(timeout=20) as anonymous:
        assert logged_in.reply()[0] == 220
        assert anonymous.reply()[0] == 220
        logged_in.login("rw", "rw-secret")
        start = time.monotonic()
        code, text = logged_in.reply()  # nothing sent: wait for the server to give up on us
        elapsed = time.monotonic() - start
        assert code == 421, text
        assert 1.0 <= elapsed <= 15, elapsed
        assert logged_in.at_eof(5)
        code, text = anonymous.reply()
        assert code == 421, text
        assert anonymous.at_eof(5)
    # activity keeps a session alive
    with server.raw(timeout=20) as c:
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        for _ in range(4):
            time.sleep(1)
            assert c.cmd("NOOP")[0] == 200


@pytest.mark.parametrize("limit", ["max_connections", "max_connections_per_ip"])
def test_connection_limits(ferry_factory, limit):
    server = ferry_factory(**{limit: 2})
    first = second = None

    def admitted() -> RawFTP:
        """A connection that got 220 (retrying briefly: the readiness probe's slot may not be free yet)."""
        deadline = time.monotonic() + 10
        while True:
            c = server.raw(timeout=15)
            code, text = c.reply()
            if code == 220:
                return c
            c.close()
            assert time.monotonic() < deadline, f"no free connection slot: {text}"
            time.sleep(0.2)

    try:
        first = admitted()
        second = admitted()
        with server.raw(timeout=15) as third:
            code, text = third.reply()
            assert code == 421, text
            assert third.at_eof(10)
        first.cmd("QUIT")
        first.close()

        def try_connect():
            with server.raw(timeout=10) as c:
                return c.reply()[0] == 220

        deadline = time.monotonic() + 10
        while not try_connect():
            assert time.monotonic() < deadline, "the freed slot was never given back"
            time.sleep(0.2)
    finally:
        for c in (first, second):
            if c:
                c.close()


def test_active_mode_disabled(ferry_factory):
    server = ferry_factory(active_mode=False)
    write_file(server.home("rw") / "file.txt", b"passive only")
    with socket.create_server((HOST, 0)) as listener:
        port = listener.getsockname()[1]
        f = server.ftp("rw")
        try:
            code, text = reply_code(f.sendcmd, f"PORT {port_args(HOST, port)}")
            assert 500 <= code <= 504, text
            code, text = reply_code(f.sendcmd, f"EPRT |1|{HOST}|{port}|")
            assert 500 <= code <= 504 or code == 522, text
            assert not accepted_connection(listener, 0.5)
            # passive transfers still work
            buf = io.BytesIO()
            f.retrbinary("RETR file.txt", buf.write)
            assert buf.getvalue() == b"passive only"
        finally:
            f.close()
