"""Python ftplib as the client: the FTP command surface (RFC 959, 2389, 2428, 3659)."""

import calendar
import ftplib
import io
import re
import socket
import struct
import time

import pytest

from conftest import (HOST, error_code, parse_epsv_port, parse_ls_lines, parse_pasv_port, random_bytes,
                      reply_code, sha256, sha256_file, wait_for, write_file)

T_2021 = calendar.timegm((2021, 3, 4, 12, 6, 7, 0, 0, 0))  # 2021-03-04 12:06:07 UTC (same date in every time zone)


def retr_bytes(ftp, cmd, rest=None) -> bytes:
    buf = io.BytesIO()
    ftp.retrbinary(cmd, buf.write, rest=rest)
    return buf.getvalue()


def recv_all(conn: socket.socket) -> bytes:
    chunks = []
    while True:
        chunk = conn.recv(65536)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


# ---------------------------------------------------------------------------------------------
# Session basics
# ---------------------------------------------------------------------------------------------

def test_greeting_syst_feat_opts_help(ferry):
    f = ftplib.FTP(encoding="utf-8")
    mark = ferry.log_size()
    try:
        welcome = f.connect(HOST, ferry.port, timeout=30)
        assert welcome.startswith("220")
        # allowed before login
        assert f.sendcmd("SYST").startswith("215")
        feat = f.sendcmd("FEAT")
        assert feat.startswith("211")
        features = {line.strip().upper() for line in feat.splitlines()[1:-1]}
        for wanted in ("UTF8", "EPSV", "REST STREAM", "SIZE", "MDTM"):
            assert wanted in features, f"FEAT lacks {wanted}: {feat!r}"
        assert any(line.startswith("MLST ") for line in features), f"FEAT lacks MLST: {feat!r}"
        mlst = next(line for line in features if line.startswith("MLST "))
        for fact in ("TYPE", "SIZE", "MODIFY", "PERM"):
            assert fact in mlst, mlst
        assert f.sendcmd("OPTS UTF8 ON").startswith("200")
        assert f.sendcmd("NOOP").startswith("200")
        assert f.sendcmd("HELP").startswith("214")
        f.login("rw", "rw-secret")
        assert f.sendcmd("PWD").startswith('257 "/"')
        assert f.sendcmd("TYPE I").startswith("200")
        assert f.sendcmd("TYPE A").startswith("200")
        assert f.sendcmd("MODE S").startswith("200")
        assert f.sendcmd("STRU F").startswith("200")
        assert error_code(pytest.raises(ftplib.error_perm, f.sendcmd, "TYPE X").value) in (501, 504)
        assert error_code(pytest.raises(ftplib.error_perm, f.sendcmd, "MODE Z").value) in (501, 504)
        assert error_code(pytest.raises(ftplib.error_perm, f.sendcmd, "XYZZY").value) in (500, 502)
        assert f.quit().startswith("221")
    finally:
        f.close()
    # The debug log names every command, but PASS's argument only as ****.
    log = ferry.log_text(mark)
    assert "verb=PASS" in log and "rw-secret" not in log, log


def test_navigation(ftp_login, area):
    area.p("sub", "inner").mkdir(parents=True)
    write_file(area.p("file.txt"), b"x")
    f = ftp_login()
    assert f.pwd() == "/"
    assert f.cwd(area.vpath).startswith("250")
    assert f.pwd() == area.vpath
    f.cwd("sub/inner")
    assert f.pwd() == area.v("sub", "inner")
    assert f.sendcmd("CDUP").startswith("250")
    assert f.pwd() == area.v("sub")
    f.cwd("..")
    assert f.pwd() == area.vpath
    f.cwd("./sub//inner/")
    assert f.pwd() == area.v("sub", "inner")
    f.cwd("/")
    assert f.pwd() == "/"
    # X-aliases
    assert f.sendcmd("XCWD " + area.vpath).startswith("250")
    assert f.sendcmd("XPWD").startswith(f'257 "{area.vpath}"')
    assert f.sendcmd("XCUP").startswith("250")
    assert f.pwd() == "/"
    # errors
    assert error_code(pytest.raises(ftplib.error_perm, f.cwd, area.v("no-such-dir")).value) == 550
    assert error_code(pytest.raises(ftplib.error_perm, f.cwd, area.v("file.txt")).value) == 550
    assert f.pwd() == "/"


def test_mkd_rmd_dele(ftp_login, area):
    f = ftp_login()
    assert f.mkd(area.v("made")) == area.v("made")
    assert area.p("made").is_dir()
    assert error_code(pytest.raises(ftplib.error_perm, f.mkd, area.v("made")).value) == 550
    # relative MKD, X-alias
    f.cwd(area.vpath)
    assert f.sendcmd("XMKD rel").startswith("257")
    assert area.p("rel").is_dir()
    assert f.sendcmd("XRMD rel").startswith("250")
    assert not area.p("rel").exists()
    # RMD only when empty
    write_file(area.p("made", "f.txt"), b"content")
    assert error_code(pytest.raises(ftplib.error_perm, f.rmd, area.v("made")).value) == 550
    assert area.p("made", "f.txt").read_bytes() == b"content"
    assert f.delete(area.v("made", "f.txt")).startswith("250")
    assert not area.p("made", "f.txt").exists()
    assert f.rmd(area.v("made")).startswith("250")
    assert not area.p("made").exists()
    # DELE and RMD of what does not exist, DELE of a directory
    assert error_code(pytest.raises(ftplib.error_perm, f.delete, area.v("ghost")).value) == 550
    assert error_code(pytest.raises(ftplib.error_perm, f.rmd, area.v("ghost")).value) == 550
    area.p("d").mkdir()
    assert error_code(pytest.raises(ftplib.error_perm, f.delete, area.v("d")).value) == 550
    assert area.p("d").is_dir()


def test_pwd_quotes_doubled(ftp_login, area):
    area.p('say "hi"').mkdir()
    f = ftp_login()
    f.cwd(area.v('say "hi"'))
    assert f.sendcmd("PWD").startswith(f'257 "{area.vpath}/say ""hi"""')
    assert f.pwd() == area.v('say "hi"')  # ftplib undoes the doubling


# ---------------------------------------------------------------------------------------------
# Listings
# ---------------------------------------------------------------------------------------------

def test_list_nlst(ftp_login, area):
    write_file(area.p("a.txt"), b"12345", mtime=T_2021)
    write_file(area.p("b c.bin"), b"x" * 70000)
    write_file(area.p("ünï.txt"), b"")
    area.p("dir").mkdir()
    f = ftp_login()
    lines = []
    f.retrlines("LIST " + area.vpath, lines.append)
    entries = parse_ls_lines("\n".join(lines))
    assert set(entries) == {"a.txt", "b c.bin", "ünï.txt", "dir"}, lines
    assert entries["a.txt"]["size"] == 5 and entries["a.txt"]["type"] == "-"
    assert re.search(r" Mar\s+0?4\s+2021 a\.txt$", entries["a.txt"]["line"]), entries["a.txt"]
    assert entries["b c.bin"]["size"] == 70000
    assert entries["dir"]["type"] == "d"
    # hidden options tolerated, and LIST of the current directory
    f.cwd(area.vpath)
    lines = []
    f.retrlines("LIST -la", lines.append)
    assert {"a.txt", "b c.bin", "ünï.txt", "dir"} <= set(parse_ls_lines("\n".join(lines)))
    lines = []
    f.retrlines("LIST -l", lines.append)
    assert set(parse_ls_lines("\n".join(lines))) == {"a.txt", "b c.bin", "ünï.txt", "dir"}
    # LIST of a single file lists that file
    lines = []
    f.retrlines("LIST a.txt", lines.append)
    assert set(parse_ls_lines("\n".join(lines))) == {"a.txt"}
    # NLST
    names = {n.rsplit("/", 1)[-1] for n in f.nlst()}
    assert {"a.txt", "b c.bin", "ünï.txt"} <= names
    names = {n.rsplit("/", 1)[-1] for n in f.nlst(area.vpath)}
    assert {"a.txt", "b c.bin", "ünï.txt"} <= names
    # listing something that does not exist: 550 before any data connection, nothing listed
    lines = []
    code, _ = reply_code(f.retrlines, "LIST " + area.v("nothing-here"), lines.append)
    assert code == 550 and not lines, (code, lines)


def test_mlsd_mlst(ftp_login, area):
    write_file(area.p("m.bin"), b"m" * 1234, mtime=T_2021)
    write_file(area.p("zero.txt"), b"")
    area.p("sub").mkdir()
    f = ftp_login()
    entries = {name: facts for name, facts in f.mlsd(area.vpath, facts=["type", "size", "modify", "perm"])}
    entries = {n: facts for n, facts in entries.items() if facts.get("type", "").lower() not in ("cdir", "pdir")}
    assert set(entries) == {"m.bin", "zero.txt", "sub"}, entries
    m = entries["m.bin"]
    assert m["type"].lower() == "file"
    assert m["size"] == "1234"
    assert m["modify"].startswith("20210304120607"), m
    assert re.fullmatch(r"\d{14}(\.\d{1,3})?", m["modify"]), m
    assert "r" in m["perm"] and "w" in m["perm"] and "d" in m["perm"], m
    assert entries["zero.txt"]["size"] == "0"
    assert entries["sub"]["type"].lower() == "dir"
    assert "e" in entries["sub"]["perm"] and "l" in entries["sub"]["perm"], entries["sub"]
    assert "c" in entries["sub"]["perm"], entries["sub"]  # rw may create files in it

    # MLST of one file: control-channel reply with the facts and the path
    resp = f.sendcmd("MLST " + area.v("m.bin"))
    assert resp.startswith("250")
    fact_line = next(line for line in resp.splitlines() if line.startswith(" "))
    facts_text, _, path = fact_line[1:].partition(" ")
    facts = dict(part.split("=", 1) for part in facts_text.rstrip(";").split(";"))
    facts = {k.lower(): v for k, v in facts.items()}
    assert facts["type"].lower() == "file" and facts["size"] == "1234"
    assert facts["modify"].startswith("20210304120607")
    assert path == area.v("m.bin")  # the absolute path, as the command named it
    # MLST of a directory; MLST of nothing
    assert "type=dir" in f.sendcmd("MLST " + area.v("sub")).lower()
    assert error_code(pytest.raises(ftplib.error_perm, f.sendcmd, "MLST " + area.v("nope")).value) == 550


def test_mlsd_perm_for_read_only_user(ftp_login, area):
    write_file(area.p("r.txt"), b"read me")
    f = ftp_login("ro")
    entries = dict(f.mlsd(area.vpath, facts=["type", "perm"]))
    perm = entries["r.txt"]["perm"]
    assert "r" in perm
    assert not set(perm) & set("adfw"), perm


def test_stat(ftp_login, area):
    write_file(area.p("s1.txt"), b"s")
    write_file(area.p("s2.txt"), b"ss")
    f = ftp_login()
    status = f.sendcmd("STAT")
    assert status.startswith("211")
    listing = f.sendcmd("STAT " + area.vpath)
    assert listing[:3] in ("211", "212", "213"), listing
    assert "s1.txt" in listing and "s2.txt" in listing


# ---------------------------------------------------------------------------------------------
# Transfers
# ---------------------------------------------------------------------------------------------

def test_stor_retr_roundtrip_and_overwrite(ftp_login, ferry, area):
    data = random_bytes(4 * 1024 * 1024 + 99)
    f = ftp_login()
    f.cwd(area.vpath)
    assert f.storbinary("STOR up.bin", io.BytesIO(data)).startswith("226")
    assert sha256_file(area.p("up.bin")) == sha256(data)
    assert sha256(retr_bytes(f, "RETR up.bin")) == sha256(data)
    # overwrite with shorter content
    f.storbinary("STOR up.bin", io.BytesIO(b"short"))
    assert area.p("up.bin").read_bytes() == b"short"
    # empty file
    f.storbinary("STOR empty.bin", io.BytesIO(b""))
    assert area.p("empty.bin").read_bytes() == b""
    assert retr_bytes(f, "RETR empty.bin") == b""
    assert not ferry.upload_leftovers()
    # errors
    assert error_code(pytest.raises(ftplib.error_perm, retr_bytes, f, "RETR missing.bin").value) == 550
    area.p("adir").mkdir()
    assert error_code(pytest.raises(ftplib.error_perm, retr_bytes, f, "RETR adir").value) == 550
    code, _ = reply_code(f.storbinary, "STOR no-such-dir/x.bin", io.BytesIO(b"x"))
    assert code in (550, 553), code
    assert not area.p("no-such-dir", "x.bin").exists()


def test_rest_retr(ftp_login, area):
    data = random_bytes(3 * 1024 * 1024 + 11)
    write_file(area.p("r.bin"), data)
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    for offset in (0, 1, 1_000_000, len(data) - 1, len(data)):
        assert retr_bytes(f, "RETR r.bin", rest=offset) == data[offset:], offset
    # transfercmd with rest, the way clients resume
    conn = f.transfercmd("RETR r.bin", rest=2_000_000)
    got = recv_all(conn)
    conn.close()
    assert f.voidresp().startswith("226")
    assert got == data[2_000_000:]
    # REST is answered with 350
    assert f.sendcmd("REST 5").startswith("350")
    f.sendcmd("REST 0")


def test_rest_stor(ftp_login, ferry, area):
    data = random_bytes(2 * 1024 * 1024 + 5)
    half = 1_234_567
    write_file(area.p("s.bin"), data[:half])
    f = ftp_login()
    f.cwd(area.vpath)
    f.storbinary("STOR s.bin", io.BytesIO(data[half:]), rest=half)
    assert area.p("s.bin").stat().st_size == len(data)
    assert sha256_file(area.p("s.bin")) == sha256(data)
    assert not ferry.upload_leftovers()


def test_appe(ftp_login, ferry, area):
    write_file(area.p("log.txt"), b"hello ")
    f = ftp_login()
    f.cwd(area.vpath)
    assert f.storbinary("APPE log.txt", io.BytesIO(b"world")).startswith("226")
    assert area.p("log.txt").read_bytes() == b"hello world"
    big = random_bytes(1024 * 1024 + 1)
    f.storbinary("APPE log.txt", io.BytesIO(big))
    assert area.p("log.txt").read_bytes() == b"hello world" + big
    # APPE to a file that does not exist creates it
    f.storbinary("APPE new.txt", io.BytesIO(b"fresh"))
    assert area.p("new.txt").read_bytes() == b"fresh"
    assert not ferry.upload_leftovers()


def stou(f, data: bytes) -> tuple[str, str]:
    """STOU in passive mode; returns (150 reply, 226 reply)."""
    host, port = f.makepasv()
    with socket.create_connection((host, port), timeout=30) as conn:
        resp = f.sendcmd("STOU")
        assert resp.startswith("150") or resp.startswith("125"), resp
        conn.sendall(data)
    return resp, f.voidresp()


def test_stou(ftp_login, area):
    write_file(area.p("existing.txt"), b"do not touch")
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    names = []
    for data in (b"first unique", b"second unique"):
        resp, done = stou(f, data)
        assert done.startswith("226"), done
        m = re.search(r"FILE: (.+)$", resp.splitlines()[0])
        assert m, f"150 reply does not name the file: {resp!r}"
        name = m.group(1).strip().rsplit("/", 1)[-1]
        names.append(name)
        assert area.p(name).read_bytes() == data
    assert names[0] != names[1]
    assert "existing.txt" not in names
    assert area.p("existing.txt").read_bytes() == b"do not touch"


def test_active_mode(ftp_login, area):
    data = random_bytes(1024 * 1024 + 3)
    f = ftp_login()
    f.set_pasv(False)
    f.cwd(area.vpath)
    assert f.storbinary("STOR active.bin", io.BytesIO(data)).startswith("226")
    assert area.p("active.bin").read_bytes() == data
    assert retr_bytes(f, "RETR active.bin") == data
    lines = []
    f.retrlines("LIST", lines.append)
    assert "active.bin" in parse_ls_lines("\n".join(lines))


def test_eprt(ftp_login, area):
    data = random_bytes(500_000)
    write_file(area.p("e.bin"), data)
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    with socket.create_server((HOST, 0)) as listener:
        listener.settimeout(30)
        port = listener.getsockname()[1]
        assert f.sendcmd(f"EPRT |1|{HOST}|{port}|").startswith("200")
        resp = f.sendcmd("RETR e.bin")
        assert resp[:3] in ("125", "150"), resp
        conn, addr = listener.accept()
        assert addr[0] == HOST
        with conn:
            got = recv_all(conn)
    assert f.voidresp().startswith("226")
    assert got == data


def test_pasv_and_epsv_ports_in_range(ftp_login, ferry, area):
    data = random_bytes(700_000)
    write_file(area.p("p.bin"), data)
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    lo, hi = ferry.passive
    for cmd in ("PASV", "EPSV"):
        resp = f.sendcmd(cmd)
        if cmd == "PASV":
            assert resp.startswith("227"), resp
            assert "127,0,0,1" in resp, resp
            port = parse_pasv_port(resp)
        else:
            assert resp.startswith("229"), resp
            port = parse_epsv_port(resp)
        assert lo <= port <= hi, (port, ferry.passive)
        with socket.create_connection((HOST, port), timeout=30) as conn:
            resp = f.sendcmd("RETR p.bin")
            assert resp[:3] in ("125", "150"), resp
            got = recv_all(conn)
        assert f.voidresp().startswith("226")
        assert got == data, cmd


def test_passive_connection_from_other_address_gets_nothing(ftp_login, area):
    secret = b"only-for-the-client " + random_bytes(64 * 1024)
    write_file(area.p("secret.bin"), secret)
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    port = parse_pasv_port(f.sendcmd("PASV"))
    # a connection from 127.0.0.2 to the passive port: not the control connection's address
    thief = socket.create_connection((HOST, port), timeout=10, source_address=("127.0.0.2", 0))
    try:
        f.sock.sendall(b"RETR secret.bin\r\n")
        thief.settimeout(5)
        got = b""
        try:
            while len(got) < len(secret):
                chunk = thief.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (TimeoutError, socket.timeout, ConnectionResetError):
            pass
        assert b"only-for-the-client" not in got
        assert not got, f"the foreign data connection received {len(got)} bytes"
    finally:
        thief.close()


def test_type_a_conversion(ftp_login, area):
    write_file(area.p("unix.txt"), "line one\nligne deux été\n\nlast\n".encode())
    f = ftp_login()
    f.cwd(area.vpath)
    # RETR in TYPE A: LF -> CRLF
    f.voidcmd("TYPE A")
    conn = f.transfercmd("RETR unix.txt")
    got = recv_all(conn)
    conn.close()
    f.voidresp()
    assert got == "line one\r\nligne deux été\r\n\r\nlast\r\n".encode()
    # STOR in TYPE A: CRLF -> LF
    conn = f.transfercmd("STOR dos.txt")
    conn.sendall(b"alpha\r\nbeta\r\n\r\ngamma \xc3\xa9\r\n")
    conn.close()
    assert f.voidresp().startswith("226")
    assert area.p("dos.txt").read_bytes() == b"alpha\nbeta\n\ngamma \xc3\xa9\n"
    # TYPE I: bytes untouched both ways
    f.voidcmd("TYPE I")
    assert retr_bytes(f, "RETR dos.txt") == b"alpha\nbeta\n\ngamma \xc3\xa9\n"
    raw = b"keep\r\nthese\r\nbytes\n"
    f.storbinary("STOR bin.txt", io.BytesIO(raw))
    assert area.p("bin.txt").read_bytes() == raw


def test_size_mdtm(ftp_login, area):
    write_file(area.p("sized.bin"), b"z" * 123456, mtime=T_2021)
    area.p("d").mkdir()
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    assert f.size("sized.bin") == 123456
    assert f.sendcmd("SIZE " + area.v("sized.bin")) == "213 123456"
    resp = f.sendcmd("MDTM sized.bin")
    assert re.fullmatch(r"213 20210304120607(\.\d{1,3})?", resp), resp
    assert error_code(pytest.raises(ftplib.error_perm, f.size, "missing.bin").value) == 550
    assert error_code(pytest.raises(ftplib.error_perm, f.sendcmd, "MDTM missing.bin").value) == 550
    assert error_code(pytest.raises(ftplib.error_perm, f.size, "d").value) == 550
    # a fresh upload has a current modification time
    f.storbinary("STOR now.bin", io.BytesIO(b"now"))
    stamp = f.sendcmd("MDTM now.bin")[4:18]
    uploaded = calendar.timegm(time.strptime(stamp, "%Y%m%d%H%M%S"))
    assert abs(uploaded - time.time()) < 120, stamp


def test_rename_file_and_directory(ftp_login, area):
    files = {
        "src/a.txt": b"a",
        "src/sub/b.bin": random_bytes(200_000),
        "src/sub/deeper/c.txt": b"c" * 10,
    }
    for rel, data in files.items():
        write_file(area.p(rel), data)
    area.p("src", "emptydir").mkdir()
    f = ftp_login()
    f.cwd(area.vpath)
    # a file, into another directory and with a new name
    assert f.sendcmd("RNFR src/a.txt").startswith("350")
    assert f.sendcmd("RNTO moved-a.txt").startswith("250")
    assert area.p("moved-a.txt").read_bytes() == b"a"
    assert not area.p("src", "a.txt").exists()
    # a whole directory
    assert f.rename("src", "dst").startswith("250")
    assert not area.p("src").exists()
    assert area.p("dst", "sub", "b.bin").read_bytes() == files["src/sub/b.bin"]
    assert area.p("dst", "sub", "deeper", "c.txt").read_bytes() == b"c" * 10
    assert area.p("dst", "emptydir").is_dir()
    entries = {n for n, facts in f.mlsd("dst") if facts.get("type", "").lower() not in ("cdir", "pdir")}
    assert entries == {"sub", "emptydir"}
    assert error_code(pytest.raises(ftplib.error_perm, f.cwd, area.v("src")).value) == 550
    # errors: RNFR of nothing; RNTO without RNFR
    assert error_code(pytest.raises(ftplib.error_perm, f.sendcmd, "RNFR ghost").value) == 550
    code, _ = reply_code(f.sendcmd, "RNTO whatever")
    assert code == 503
    # rename onto an existing file replaces it (rw has delete)
    write_file(area.p("old.txt"), b"old")
    write_file(area.p("new.txt"), b"new")
    f.rename("new.txt", "old.txt")
    assert area.p("old.txt").read_bytes() == b"new"
    assert not area.p("new.txt").exists()


# ---------------------------------------------------------------------------------------------
# ABOR
# ---------------------------------------------------------------------------------------------

def abort_and_check(f) -> None:
    """ftplib's abort() (ABOR as urgent data) then the final reply: 426 then 226."""
    first = f.abort()
    assert first.startswith("426"), f"first reply to ABOR during a transfer: {first!r}"
    second = f.getresp()
    assert second.startswith("226"), f"second reply to ABOR: {second!r}"


def test_abor_during_download(ftp_login, area):
    size = 64 * 1024 * 1024
    chunk = random_bytes(1024 * 1024)
    with open(area.p("huge.bin"), "wb") as out:
        for _ in range(size // len(chunk)):
            out.write(chunk)
    write_file(area.p("small.txt"), b"still works")
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("RETR huge.bin")
    got = 0
    while got < 256 * 1024:
        data = conn.recv(65536)
        assert data, "data connection closed early"
        got += len(data)
    abort_and_check(f)
    conn.settimeout(10)
    try:
        while True:
            data = conn.recv(1 << 20)
            if not data:
                break
            got += len(data)
    except (ConnectionResetError, TimeoutError, socket.timeout):
        pass
    conn.close()
    assert got < size, "the whole file arrived: the transfer was not aborted"
    # the session lives on
    assert f.sendcmd("NOOP").startswith("200")
    assert retr_bytes(f, "RETR small.txt") == b"still works"
    assert f.pwd() == area.vpath


def test_abor_after_client_closed_data_connection(ftp_login, area):
    """The FileZilla/curl way to cancel: close the data connection, then send ABOR."""
    chunk = random_bytes(1024 * 1024)
    with open(area.p("big.bin"), "wb") as out:
        for _ in range(16):
            out.write(chunk)
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("RETR big.bin")
    assert conn.recv(65536)
    conn.close()
    first = f.abort()
    if first.startswith("426"):
        second = f.getresp()
        assert second[:3] in ("225", "226"), second
    else:
        assert first[:3] in ("225", "226"), first
    assert f.sendcmd("NOOP").startswith("200")
    assert retr_bytes(f, "RETR big.bin", rest=len(chunk) * 16 - 5) == chunk[-5:]


def test_abor_during_upload_leaves_nothing(ftp_login, ferry, area):
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("STOR partial.bin")
    conn.sendall(random_bytes(2 * 1024 * 1024))
    abort_and_check(f)
    conn.close()
    assert f.sendcmd("NOOP").startswith("200")
    assert not area.p("partial.bin").exists()
    assert wait_for(lambda: not ferry.upload_leftovers(), timeout=5), ferry.upload_leftovers()
    names = {n for n, _ in f.mlsd()}
    assert "partial.bin" not in names


def test_abor_during_upload_keeps_existing_file(ftp_login, ferry, area):
    write_file(area.p("keep.bin"), b"original content")
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("STOR keep.bin")
    conn.sendall(random_bytes(1024 * 1024))
    abort_and_check(f)
    conn.close()
    assert f.sendcmd("NOOP").startswith("200")
    assert area.p("keep.bin").read_bytes() == b"original content"
    assert wait_for(lambda: not ferry.upload_leftovers(), timeout=5), ferry.upload_leftovers()


def test_abor_without_transfer(ferry):
    with ferry.raw() as c:
        assert c.reply()[0] == 220
        c.login("rw", "rw-secret")
        # as lftp and others send it: Telnet IP and Synch before ABOR
        c.sock.sendall(b"\xff\xf4\xff\xf2ABOR\r\n")
        code, text = c.reply()
        assert code in (225, 226), text
        assert c.cmd("NOOP")[0] == 200


def test_upload_dropped_connection_leaves_nothing(ftp_login, ferry, area):
    """A client that vanishes mid-upload (control and data closed) leaves no object behind."""
    f = ftp_login()
    f.cwd(area.vpath)
    f.voidcmd("TYPE I")
    conn = f.transfercmd("STOR vanished.bin")
    conn.sendall(random_bytes(1024 * 1024))
    # abrupt reset of both connections
    for s in (conn, f.sock):
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    assert wait_for(lambda: not ferry.upload_leftovers(), timeout=10), ferry.upload_leftovers()
    assert not area.p("vanished.bin").exists()


# ---------------------------------------------------------------------------------------------
# Transfer log
# ---------------------------------------------------------------------------------------------

def test_transfer_log(ftp_login, ferry, area):
    data = random_bytes(54321)
    f = ftp_login()
    f.cwd(area.vpath)
    name = f"xfer-{area.path.name}.bin"
    f.storbinary(f"STOR {name}", io.BytesIO(data))
    assert retr_bytes(f, f"RETR {name}") == data

    def lines():
        return [line for line in ferry.xferlog_lines() if name in line]

    got = wait_for(lambda: len(lines()) >= 2, timeout=5) and lines()
    assert got and len(got) == 2, ferry.xferlog_lines()[-10:]
    # xferlog: date (5 fields) time host size name type flag direction mode user service auth id status
    for line, direction in zip(got, ("i", "o")):
        fields = line.split()
        assert len(fields) == 18, line
        assert fields[7] == str(len(data)), line
        assert fields[8].endswith(name), line
        assert fields[9] == "b", line
        assert fields[11] == direction, line
        assert fields[13] == "rw", line
        assert fields[17] == "c", line
