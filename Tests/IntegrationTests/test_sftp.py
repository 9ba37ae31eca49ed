"""SFTP (issue 5) with real clients: OpenSSH sftp and scp, paramiko, rclone's sftp backend.

Every test server serves SFTP next to FTP (conftest: `server.sftp_port`); the standard users accept
the client keys `ed25519` and `rsa` from sshsupport and their usual passwords. Results are checked
on disk (local storage) or in S3 (boto3), never only through Ferry.
"""

from __future__ import annotations

import os
import socket
import struct
import subprocess
import time

import paramiko
import pytest

import sshsupport
from conftest import (HOST, PASSWORDS, make_tree, random_bytes, sha256, tree_snapshot, wait_for, write_file)
from sshsupport import paramiko_sftp, scp, sftp_batch

KiB = 1024
MiB = 1024 * KiB


def assert_ok(result: subprocess.CompletedProcess):
    assert result.returncode == 0, f"exit {result.returncode}:\n{result.stdout}"


# ---------------------------------------------------------------------------------------------
# OpenSSH sftp and scp
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["ed25519", "rsa"])
def test_openssh_sftp_batch_with_keys(ferry, area, tmp_path, key):
    """put, get, ls, mkdir, rename (plain and posix), rm, rmdir, reput and reget with a key login."""
    data = random_bytes(3 * MiB + 123, seed=5)
    write_file(tmp_path / "up.bin", data)
    write_file(tmp_path / "half.bin", data[:MiB])
    v = area.vpath
    r = sftp_batch(ferry.sftp_port, "rw", f"""
mkdir {v}/d
put up.bin {v}/d/up.bin
ls -l {v}/d
get {v}/d/up.bin back.bin
rename -l {v}/d/up.bin {v}/d/renamed.bin
put half.bin {v}/d/resumed.bin
reput up.bin {v}/d/resumed.bin
get {v}/d/resumed.bin resumed-back.bin
put up.bin {v}/d/other.bin
rename {v}/d/other.bin {v}/d/renamed.bin
mkdir {v}/empty
rmdir {v}/empty
ls -1 {v}/d
""", key=key, cwd=tmp_path)
    assert_ok(r)
    assert (tmp_path / "back.bin").read_bytes() == data
    assert (tmp_path / "resumed-back.bin").read_bytes() == data
    assert area.p("d", "resumed.bin").read_bytes() == data
    assert area.p("d", "renamed.bin").read_bytes() == data  # posix-rename replaced it
    assert sorted(p.name for p in area.p("d").iterdir()) == ["renamed.bin", "resumed.bin"]
    assert not area.p("empty").exists()
    assert "up.bin" in r.stdout and "3145851" in r.stdout  # ls -l long name with the size

    # reget: a partial local copy is completed from where it stops.
    write_file(tmp_path / "partial.bin", data[:1234567])
    r = sftp_batch(ferry.sftp_port, "rw", f"reget {v}/d/renamed.bin partial.bin\nrm {v}/d/renamed.bin\n",
                   key=key, cwd=tmp_path)
    assert_ok(r)
    assert (tmp_path / "partial.bin").read_bytes() == data
    assert not area.p("d", "renamed.bin").exists()
    assert "publickey" in ferry.log_text() and ("ssh-rsa" if key == "rsa" else "ssh-ed25519") in ferry.log_text()


def test_openssh_sftp_password_login(ferry, area, tmp_path):
    write_file(tmp_path / "p.txt", b"password login\n")
    r = sftp_batch(ferry.sftp_port, "rw", f"put p.txt {area.vpath}/p.txt\nls {area.vpath}\n",
                   key=None, password=PASSWORDS["rw"], cwd=tmp_path)
    assert_ok(r)
    assert area.p("p.txt").read_bytes() == b"password login\n"


def test_ecdsa_key_login_with_paramiko(ferry, area):
    with paramiko_sftp(ferry.sftp_port, "rw", key="ecdsa") as client:
        with client.open(f"{area.vpath}/e.txt", "wb") as f:
            f.write(b"ecdsa")
    assert area.p("e.txt").read_bytes() == b"ecdsa"
    assert "ecdsa-sha2-nistp384" in ferry.log_text()


def test_connection_limit_per_address(ferry_factory):
    server = ferry_factory(max_connections_per_ip=1)
    # The harness's readiness probe may still hold the one slot for a moment after it hung up.
    first = None
    deadline = time.monotonic() + 10
    while first is None:
        try:
            first = paramiko_sftp(server.sftp_port, "rw")
        except (paramiko.SSHException, EOFError, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    try:
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            paramiko_sftp(server.sftp_port, "rw").close()
        assert first.listdir("/") is not None  # the first session is unaffected
    finally:
        first.close()
    assert "refused: connection limit" in server.log_text()


def test_plain_rename_never_overwrites(ferry, area, tmp_path):
    write_file(area.p("a.txt"), b"a")
    write_file(area.p("b.txt"), b"b")
    r = sftp_batch(ferry.sftp_port, "rw", f"rename -l {area.vpath}/a.txt {area.vpath}/b.txt\n", cwd=tmp_path)
    assert r.returncode != 0
    assert area.p("a.txt").read_bytes() == b"a" and area.p("b.txt").read_bytes() == b"b"


def test_scp_up_and_down(ferry, area, tmp_path):
    data = random_bytes(2 * MiB + 7, seed=9)
    write_file(tmp_path / "s.bin", data)
    assert_ok(scp(ferry.sftp_port, str(tmp_path / "s.bin"), f"rw@{HOST}:{area.vpath}/s.bin"))
    assert area.p("s.bin").read_bytes() == data
    assert_ok(scp(ferry.sftp_port, f"rw@{HOST}:{area.vpath}/s.bin", str(tmp_path / "s-back.bin")))
    assert (tmp_path / "s-back.bin").read_bytes() == data
    # Recursive copy of a tree, both ways.
    src = tmp_path / "tree"
    expected = make_tree(src)
    assert_ok(scp(ferry.sftp_port, str(src), f"rw@{HOST}:{area.vpath}/", extra=["-r"]))
    back = tmp_path / "back"
    back.mkdir()
    assert_ok(scp(ferry.sftp_port, f"rw@{HOST}:{area.vpath}/tree", str(back), extra=["-r"]))
    assert tree_snapshot(back / "tree") == tree_snapshot(src)
    assert expected


def test_legacy_scp_refuses_names_that_are_not_utf8(ferry, area, tmp_path):
    """A C line's name is checked like every client path: invalid UTF-8 is refused with a warning
    (the client skips that file and goes on), never stored with U+FFFD in its place."""
    src = tmp_path / "mixed"
    src.mkdir()
    write_file(src / "good.txt", b"good")
    with open(os.path.join(os.fsencode(src), b"bad\xff.txt"), "wb") as f:
        f.write(b"bad")
    since = ferry.log_size()
    r = scp(ferry.sftp_port, str(src), f"rw@{HOST}:{area.vpath}/", extra=["-O", "-r"])
    assert r.returncode != 0
    assert "Invalid path" in r.stdout, r.stdout  # the short reason SFTP gives too
    assert "the path is not valid UTF-8" in ferry.log_text(since)
    assert area.p("mixed/good.txt").read_bytes() == b"good"
    assert os.listdir(os.fsencode(area.p("mixed"))) == [b"good.txt"]


def test_server_side_copy_with_cp(ferry, area, tmp_path):
    """OpenSSH's `cp` uses copy-data: the whole file is copied by the storage, not through the client."""
    data = random_bytes(700 * KiB, seed=3)
    write_file(area.p("orig.bin"), data)
    since = ferry.log_size()
    r = sftp_batch(ferry.sftp_port, "rw", f"cp {area.vpath}/orig.bin {area.vpath}/copy.bin\n", cwd=tmp_path)
    assert_ok(r)
    assert area.p("copy.bin").read_bytes() == data
    assert "server-side copy" in ferry.log_text(since)


def test_df_and_extensions(ferry, area, tmp_path):
    r = sftp_batch(ferry.sftp_port, "rw", "df -h\n", cwd=tmp_path)
    assert_ok(r)
    assert "PB" in r.stdout
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        assert client.normalize(".") == "/"
        assert client.normalize(f"{area.vpath}/../{area.vpath}/x/..") == area.vpath
    # VERSION lists the extensions: read them from a raw session.
    with RawSFTP(ferry.sftp_port) as raw:
        version, extensions = raw.init()
        assert version == 3
        assert {"posix-rename@openssh.com", "statvfs@openssh.com", "fsync@openssh.com", "limits@openssh.com",
                "expand-path@openssh.com", "home-directory", "copy-data"} <= set(extensions)
        status, payload = raw.extended("limits@openssh.com", b"")
        packet, read_len, write_len, handles = struct.unpack(">QQQQ", payload)
        assert packet >= 256 * KiB and read_len >= 64 * KiB and write_len >= 64 * KiB and handles >= 16
        status, payload = raw.extended("expand-path@openssh.com", ssh_string(b"~/a/../b"))
        assert status == 104 and b"/b" in payload
        status, payload = raw.extended("home-directory", ssh_string(b"rw"))
        assert status == 104 and ssh_string(b"/") in payload


# ---------------------------------------------------------------------------------------------
# paramiko
# ---------------------------------------------------------------------------------------------

def test_paramiko_random_and_prefetched_reads(ferry, area):
    data = random_bytes(5 * MiB + 333, seed=21)
    write_file(area.p("r.bin"), data)
    since = ferry.log_size()
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        with client.open(f"{area.vpath}/r.bin", "rb") as f:
            rng = __import__("random").Random(7)
            for _ in range(40):
                offset = rng.randrange(0, len(data))
                length = rng.randrange(1, 100 * KiB)
                f.seek(offset)
                assert f.read(length) == data[offset:offset + length]
            f.seek(len(data) - 10)
            assert f.read(100) == data[-10:]
            assert f.read(10) == b""
        # Prefetch: paramiko sends all READs of the file at once.
        with client.open(f"{area.vpath}/r.bin", "rb") as f:
            f.prefetch()
            assert sha256(f.read()) == sha256(data)
        # readv: many ranges in one go.
        with client.open(f"{area.vpath}/r.bin", "rb") as f:
            ranges = [(i * 300 * KiB, 1000) for i in range(15)]
            assert list(f.readv(ranges)) == [data[o:o + n] for o, n in ranges]
    log = ferry.log_text(since)
    assert "repositions=" in log


def test_paramiko_pipelined_upload(ferry, area):
    data = random_bytes(9 * MiB + 5, seed=22)
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        with client.open(f"{area.vpath}/pipe.bin", "wb") as f:
            f.set_pipelined(True)
            view = memoryview(data)
            for start in range(0, len(data), 32 * KiB):
                f.write(bytes(view[start:start + 32 * KiB]))
        assert client.stat(f"{area.vpath}/pipe.bin").st_size == len(data)
    assert area.p("pipe.bin").read_bytes() == data


def test_paramiko_out_of_order_writes_within_window(ferry, area):
    blocks = [random_bytes(32 * KiB, seed=100 + i) for i in range(8)]
    order = [1, 0, 3, 2, 7, 4, 6, 5]
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        with client.open(f"{area.vpath}/ooo.bin", "wb") as f:
            f.set_pipelined(True)
            for i in order:
                f.seek(i * 32 * KiB)
                f.write(blocks[i])
    assert area.p("ooo.bin").read_bytes() == b"".join(blocks)


def test_cipher_list_restricts_what_clients_may_negotiate(ferry_factory, area, tmp_path):
    server = ferry_factory(sftp_toml='ciphers = ["aes128-gcm@openssh.com", "aes256-gcm@openssh.com"]')
    write_file(tmp_path / "c.txt", b"cipher\n")
    # OpenSSH's default preference starts with chacha20-poly1305: the server's list decides here.
    r = sftp_batch(server.sftp_port, "rw", "put c.txt /c.txt\n", cwd=tmp_path)
    assert_ok(r)
    assert (server.home("rw") / "c.txt").read_bytes() == b"cipher\n"
    assert "cipher=aes128-gcm@openssh.com" in server.log_text()
    # A client that offers only a cipher the server left out cannot connect.
    r = sftp_batch(server.sftp_port, "rw", "ls /\n", cwd=tmp_path, extra=["-c", "chacha20-poly1305@openssh.com"])
    assert r.returncode != 0
    # The client may exit before Ferry has logged why (seen under ThreadSanitizer).
    assert wait_for(lambda: "no match for method encryption" in server.log_text(), timeout=15)


def test_paramiko_write_beyond_window_fails_and_publishes_nothing(ferry_factory):
    server = ferry_factory(sftp_toml='reorder_window = "64KiB"')
    area_path = server.home("rw")
    with paramiko_sftp(server.sftp_port, "rw") as client:
        f = client.open("/far.bin", "wb")
        f.write(b"x" * 1000)
        f.seek(1 * MiB)
        with pytest.raises(IOError):
            f.write(b"y" * 1000)
        f.close()  # CLOSE answers FAILURE too (paramiko does not raise for a failed close)
        with pytest.raises(IOError):
            client.stat("/far.bin")
    assert not (area_path / "far.bin").exists()
    log = server.log_text()
    assert "too far ahead" in log and "upload aborted" in log and "transfer failed" in log
    assert server.upload_leftovers() == []


def test_paramiko_listdir_attr_2500(ferry, area):
    for i in range(2500):
        (area.path / f"f{i:05d}.txt").write_bytes(b"x" * (i % 7))
    (area.path / "sub").mkdir()
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        entries = client.listdir_attr(area.vpath)
        by_name = {e.filename: e for e in entries}
        assert len(entries) == 2501
        assert by_name["f02499.txt"].st_size == 2499 % 7
        assert by_name["sub"].st_mode & 0o170000 == 0o040000
        assert by_name["f00001.txt"].st_mode & 0o170000 == 0o100000
        assert by_name["f00001.txt"].longname.startswith("-rw")
        st = client.stat(f"{area.vpath}/f00006.txt")
        assert st.st_size == 6
        assert abs(st.st_mtime - (area.path / "f00006.txt").stat().st_mtime) < 2


def test_paramiko_setstat_times_kept_truncate_honoured(ferry, area):
    write_file(area.p("t.txt"), b"some content")
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        client.utime(f"{area.vpath}/t.txt", (1000000, 1354040105))  # the modification time is kept
        assert client.stat(f"{area.vpath}/t.txt").st_mtime == 1354040105
        assert area.p("t.txt").stat().st_mtime == 1354040105  # local storage: the file's own mtime
        # A directory's time too (rclone sync, sftp put -rp): local storage sets its own mtime.
        client.mkdir(f"{area.vpath}/timed")
        client.utime(f"{area.vpath}/timed", (1000000, 1354040106))
        assert client.stat(f"{area.vpath}/timed").st_mtime == 1354040106
        assert area.p("timed").stat().st_mtime == 1354040106
        listed = {entry.filename: entry for entry in client.listdir_attr(area.vpath)}
        assert listed["timed"].st_mtime == 1354040106
        client.chmod(f"{area.vpath}/t.txt", 0o600)  # accepted, no effect
        client.truncate(f"{area.vpath}/t.txt", 0)
        assert client.stat(f"{area.vpath}/t.txt").st_size == 0
        with pytest.raises(IOError):
            client.truncate(f"{area.vpath}/t.txt", 5)
    assert area.p("t.txt").read_bytes() == b""


def test_answers_as_openssh_clients_expect(ferry, area):
    """OPENDIR on a file is NO_SUCH_FILE (as OpenSSH maps ENOTDIR), and OPEN with CREAT|EXCL alone
    (paramiko's mode "x") creates a new file or fails on an existing one."""
    write_file(area.p("plain.txt"), b"content")
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        with pytest.raises(FileNotFoundError) as refused:
            client.listdir(f"{area.vpath}/plain.txt")
        assert "Not a directory" in str(refused.value)
        with pytest.raises(IOError) as exists:
            client.open(f"{area.vpath}/plain.txt", "x").close()
        assert "exists" in str(exists.value).lower()
        client.open(f"{area.vpath}/fresh.txt", "x").close()
        assert client.stat(f"{area.vpath}/fresh.txt").st_size == 0
    assert area.p("plain.txt").read_bytes() == b"content"
    assert area.p("fresh.txt").read_bytes() == b""


# ---------------------------------------------------------------------------------------------
# rclone
# ---------------------------------------------------------------------------------------------

def test_rclone_copy_and_check(ferry, area, tmp_path):
    src = tmp_path / "src"
    make_tree(src)
    (src / "ünïcødé dir").mkdir(exist_ok=True)
    write_file(src / "ünïcødé dir" / "空 file.txt", b"")
    write_file(src / "ünïcødé dir" / "naïve café.bin", random_bytes(300 * KiB, seed=4))
    remote = sshsupport.rclone_sftp_remote(ferry.sftp_port, "rw") + area.vpath.lstrip("/") + "/copy"
    rclone = sshsupport.rclone_binary()
    env = dict(os.environ, RCLONE_CONFIG="/dev/null")
    r = subprocess.run([rclone, "copy", str(src), remote, "--create-empty-src-dirs"], env=env,
                       capture_output=True, text=True, timeout=180)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([rclone, "check", str(src), remote, "--one-way"], env=env, capture_output=True, text=True,
                       timeout=180)
    assert r.returncode == 0, r.stderr
    assert tree_snapshot(area.p("copy")) == tree_snapshot(src)


# ---------------------------------------------------------------------------------------------
# Permissions, traversal, refused services, the defender
# ---------------------------------------------------------------------------------------------

def test_ro_user_cannot_upload(ferry, area, tmp_path):
    write_file(tmp_path / "x.txt", b"x")
    r = sftp_batch(ferry.sftp_port, "ro", f"put x.txt {area.vpath}/x.txt\n", cwd=tmp_path)
    assert r.returncode != 0
    assert "Permission denied" in r.stdout
    assert not area.p("x.txt").exists()
    write_file(area.p("readable.txt"), b"read me")
    r = sftp_batch(ferry.sftp_port, "ro", f"get {area.vpath}/readable.txt r.txt\n", cwd=tmp_path)
    assert_ok(r)
    assert (tmp_path / "r.txt").read_bytes() == b"read me"


def test_user_without_delete(ferry, area, tmp_path):
    write_file(area.p("keep.txt"), b"keep")
    write_file(area.p("other.txt"), b"other")
    for command in (f"rm {area.vpath}/keep.txt", f"rename {area.vpath}/other.txt {area.vpath}/keep.txt"):
        r = sftp_batch(ferry.sftp_port, "nodel", command + "\n", cwd=tmp_path)
        assert r.returncode != 0, command
        assert "Permission denied" in r.stdout, r.stdout
    assert area.p("keep.txt").read_bytes() == b"keep" and area.p("other.txt").read_bytes() == b"other"
    # Renaming to a new name is allowed without delete.
    assert_ok(sftp_batch(ferry.sftp_port, "nodel", f"rename {area.vpath}/other.txt {area.vpath}/new.txt\n",
                         cwd=tmp_path))
    assert area.p("new.txt").read_bytes() == b"other"
    # `put` over an existing file (an open with TRUNC) would destroy it: refused at the open.
    write_file(tmp_path / "more.txt", b"keep more")
    r = sftp_batch(ferry.sftp_port, "nodel", f"put more.txt {area.vpath}/keep.txt\n", cwd=tmp_path)
    assert r.returncode != 0 and "Permission denied" in r.stdout, r.stdout
    assert area.p("keep.txt").read_bytes() == b"keep"
    for legacy in ([], ["-O"]):  # scp over SFTP, and the legacy scp protocol
        r = scp(ferry.sftp_port, str(tmp_path / "more.txt"), f"nodel@{HOST}:{area.vpath}/keep.txt", extra=legacy)
        assert r.returncode != 0, (legacy, r.stdout)
        assert area.p("keep.txt").read_bytes() == b"keep"
    # `put -a` resumes at the remote file's end (it sends the local bytes past it): allowed.
    assert_ok(sftp_batch(ferry.sftp_port, "nodel", f"put -a more.txt {area.vpath}/keep.txt\n", cwd=tmp_path))
    assert area.p("keep.txt").read_bytes() == b"keep more"


def test_wo_user_cannot_download(ferry, tmp_path):
    home = ferry.home("wo")
    write_file(home / "secret.txt", b"secret")
    r = sftp_batch(ferry.sftp_port, "wo", "get /secret.txt s.txt\n", cwd=tmp_path)
    assert r.returncode != 0 and "Permission denied" in r.stdout
    assert not (tmp_path / "s.txt").exists()


def test_traversal_stays_in_home(ferry, area, tmp_path):
    write_file(tmp_path / "t.txt", b"t")
    r = sftp_batch(ferry.sftp_port, "rw", f"""
cd ../../../../..
pwd
put t.txt ../../escaped.txt
-get /../../../../etc/passwd passwd.txt
-get ../../../etc/hostname hostname.txt
""", cwd=tmp_path)
    assert_ok(r)
    assert "Remote working directory: /" in r.stdout
    assert (ferry.home("rw") / "escaped.txt").read_bytes() == b"t"  # landed inside the home
    assert not (ferry.root / "escaped.txt").exists() and not (ferry.root / "files" / "escaped.txt").exists()
    assert not (tmp_path / "passwd.txt").exists() and not (tmp_path / "hostname.txt").exists()
    (ferry.home("rw") / "escaped.txt").unlink()
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        assert client.normalize("/../../..") == "/"
        with pytest.raises(IOError):
            client.stat("/a\x01b")


def test_shell_exec_and_forwarding_refused(ferry, tmp_path):
    base = ["ssh", "-p", str(ferry.sftp_port), *sshsupport.SSH_OPTIONS, "-i", str(sshsupport.keys()["ed25519"].private),
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes"]
    since = ferry.log_size()
    r = subprocess.run([*base, f"rw@{HOST}", "cat /etc/passwd"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0 and "root:" not in r.stdout
    r = subprocess.run([*base, "-tt", f"rw@{HOST}"], capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    # Local port forwarding: the tunnel is refused (the client says so and the connection fails).
    r = subprocess.run([*base, "-N", "-o", "ExitOnForwardFailure=yes", "-W", f"{HOST}:{ferry.port}", f"rw@{HOST}"],
                       capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    log = ferry.log_text(since)
    assert "request=exec" in log and ("request=shell" in log or "request=pty" in log)


def test_wrong_key_and_wrong_password_feed_the_defender(ferry_factory, tmp_path):
    server = ferry_factory(max_login_failures=2, ban_time="1m")
    r = sftp_batch(server.sftp_port, "rw", "ls\n", key="stranger", cwd=tmp_path)
    assert r.returncode != 0
    r = sftp_batch(server.sftp_port, "rw", "ls\n", key=None, password="wrong", cwd=tmp_path)
    assert r.returncode != 0
    # Banned now: even the right key is refused at connect.
    r = sftp_batch(server.sftp_port, "rw", "ls\n", key="ed25519", cwd=tmp_path)
    assert r.returncode != 0
    log = server.log_text()
    assert "SSH public key refused" in log and "SSH login failed" in log
    assert "refused a banned address" in log


def test_idle_sftp_session_is_closed(ferry_factory):
    server = ferry_factory(idle_timeout="2s")
    client = paramiko_sftp(server.sftp_port, "rw")
    try:
        assert client.listdir("/") is not None
        time.sleep(4)
        with pytest.raises((IOError, EOFError, paramiko.SSHException, OSError)):
            client.listdir("/")
    finally:
        client.close()
    assert "idle timeout" in server.log_text()


# ---------------------------------------------------------------------------------------------
# Malformed SFTP traffic (raw packets on the subsystem channel)
# ---------------------------------------------------------------------------------------------

def ssh_string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


class RawSFTP:
    """The `sftp` subsystem of a paramiko SSH session, spoken by hand."""

    def __init__(self, port: int, user: str = "rw"):
        self.transport = paramiko.Transport((HOST, port))
        self.transport.connect(username=user, password=PASSWORDS[user])
        self.channel = self.transport.open_session()
        self.channel.settimeout(30)
        self.channel.invoke_subsystem("sftp")
        self.next_id = 1

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.transport.close()

    def send_raw(self, data: bytes):
        self.channel.sendall(data)

    def send(self, packet_type: int, body: bytes, with_id: bool = True) -> int:
        request_id = self.next_id
        self.next_id += 1
        payload = bytes([packet_type]) + (struct.pack(">I", request_id) if with_id else b"") + body
        self.send_raw(struct.pack(">I", len(payload)) + payload)
        return request_id

    def _read_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.channel.recv(n - len(data))
            if not chunk:
                raise EOFError("channel closed")
            data += chunk
        return data

    def receive(self) -> tuple[int, bytes]:
        length = struct.unpack(">I", self._read_exact(4))[0]
        packet = self._read_exact(length)
        return packet[0], packet[1:]

    def init(self) -> tuple[int, list[str]]:
        self.send(1, struct.pack(">I", 3), with_id=False)
        kind, body = self.receive()
        assert kind == 2
        version = struct.unpack(">I", body[:4])[0]
        names, rest = [], body[4:]
        while rest:
            n = struct.unpack(">I", rest[:4])[0]
            names.append(rest[4:4 + n].decode())
            rest = rest[4 + n:]
            m = struct.unpack(">I", rest[:4])[0]
            rest = rest[4 + m:]
        return version, names

    def status(self) -> tuple[int, int]:
        kind, body = self.receive()
        assert kind == 101, f"expected STATUS, got {kind}"
        return struct.unpack(">II", body[:8])

    def extended(self, name: str, payload: bytes) -> tuple[int, bytes]:
        self.send(200, ssh_string(name.encode()) + payload)
        kind, body = self.receive()
        return kind, body[4:]


def test_requests_before_init_and_malformed_packets(ferry):
    with RawSFTP(ferry.sftp_port) as raw:
        request_id = raw.send(17, ssh_string(b"/"))  # STAT before INIT
        assert raw.status() == (request_id, 4)  # FAILURE
        raw.init()
        request_id = raw.send(17, b"\x00\x00")  # truncated STAT
        assert raw.status() == (request_id, 5)  # BAD_MESSAGE
        request_id = raw.send(99, b"")  # unknown type
        assert raw.status() == (request_id, 8)  # OP_UNSUPPORTED
        request_id = raw.send(5, ssh_string(b"nope") + struct.pack(">QI", 0, 10))  # READ of a bad handle
        assert raw.status() == (request_id, 4)
        request_id = raw.send(17, ssh_string(b"/bad\xff\xfeutf8"))
        assert raw.status()[0] == request_id
        # Still serving.
        request_id = raw.send(17, ssh_string(b"/"))
        kind, body = raw.receive()
        assert kind == 105 and struct.unpack(">I", body[:4])[0] == request_id
        # A length above the limit ends the session (not the server).
        raw.send_raw(struct.pack(">I", 64 * MiB) + b"\x03")
        with pytest.raises((EOFError, OSError, socket.timeout)):
            raw.receive()
    assert "framing error" in ferry.log_text()
    assert ferry.alive
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        assert client.listdir("/") is not None


def test_handle_limit(ferry, area):
    write_file(area.p("h.txt"), b"h")
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        opened = []
        with pytest.raises(IOError):
            for _ in range(1000):
                opened.append(client.open(f"{area.vpath}/h.txt", "rb"))
        assert 16 <= len(opened) < 1000
        for f in opened:
            f.close()
        with client.open(f"{area.vpath}/h.txt", "rb") as f:
            assert f.read() == b"h"


def test_dropped_session_publishes_nothing(ferry, area):
    client = paramiko_sftp(ferry.sftp_port, "rw")
    f = client.open(f"{area.vpath}/dropped.bin", "wb")
    f.write(random_bytes(3 * MiB, seed=1))
    client.get_channel().get_transport().sock.close()  # the network goes away, no CLOSE
    assert wait_for(lambda: "session ended before CLOSE" in ferry.log_text(), timeout=15)
    assert not area.p("dropped.bin").exists()
    assert wait_for(lambda: ferry.upload_leftovers() == [], timeout=10)


def test_sftp_transfers_in_xferlog(ferry, area, tmp_path):
    write_file(tmp_path / "x.bin", b"z" * 5000)
    assert_ok(sftp_batch(ferry.sftp_port, "rw", f"put x.bin {area.vpath}/xfer.bin\nget {area.vpath}/xfer.bin y.bin\n",
                         cwd=tmp_path))
    lines = [line for line in ferry.xferlog_lines() if f"{area.vpath}/xfer.bin" in line]
    assert len(lines) == 2, lines
    assert f" 5000 {area.vpath}/xfer.bin b _ i r rw sftp 0 * c" in lines[0]
    assert f" 5000 {area.vpath}/xfer.bin b _ o r rw sftp 0 * c" in lines[1]


# ---------------------------------------------------------------------------------------------
# Legacy scp (`scp -O`: the rcp protocol over an exec channel, as scp before OpenSSH 9 speaks it)
# ---------------------------------------------------------------------------------------------

def test_legacy_scp_files_and_trees(ferry, area, tmp_path):
    data = random_bytes(3 * MiB + 11, seed=31)
    write_file(tmp_path / "l.bin", data)
    assert_ok(scp(ferry.sftp_port, str(tmp_path / "l.bin"), f"rw@{HOST}:{area.vpath}/l.bin", extra=["-O"]))
    assert area.p("l.bin").read_bytes() == data
    assert_ok(scp(ferry.sftp_port, f"rw@{HOST}:{area.vpath}/l.bin", str(tmp_path / "l-back.bin"), extra=["-O"]))
    assert (tmp_path / "l-back.bin").read_bytes() == data
    # Into an existing directory, with a name that needs quoting.
    write_file(tmp_path / "with space.txt", b"spaced")
    assert_ok(scp(ferry.sftp_port, str(tmp_path / "with space.txt"), f"rw@{HOST}:{area.vpath}/", extra=["-O"]))
    assert area.p("with space.txt").read_bytes() == b"spaced"
    # Trees both ways (-r), times kept (-p): each file's modification time arrives with it.
    src = tmp_path / "tree"
    make_tree(src)
    for index, path in enumerate(sorted(p for p in src.rglob("*") if p.is_file())):
        os.utime(path, (1354040105 + index, 1354040105 + index))
    assert_ok(scp(ferry.sftp_port, str(src), f"rw@{HOST}:{area.vpath}/", extra=["-O", "-r", "-p"]))
    assert tree_snapshot(area.p("tree")) == tree_snapshot(src)
    for path in src.rglob("*"):  # files and directories (set when scp leaves them)
        stored = area.p("tree") / path.relative_to(src)
        assert int(stored.stat().st_mtime) == int(path.stat().st_mtime), stored
    back = tmp_path / "back"
    back.mkdir()
    assert_ok(scp(ferry.sftp_port, f"rw@{HOST}:{area.vpath}/tree", str(back), extra=["-O", "-r"]))
    assert tree_snapshot(back / "tree") == tree_snapshot(src)
    lines = [line for line in ferry.xferlog_lines() if f"{area.vpath}/l.bin" in line]
    assert any(" rw scp 0 * c" in line for line in lines), lines


def test_legacy_scp_goes_through_the_gate(ferry, area, tmp_path):
    write_file(tmp_path / "x.txt", b"x")
    r = scp(ferry.sftp_port, str(tmp_path / "x.txt"), f"ro@{HOST}:{area.vpath}/x.txt", extra=["-O"])
    assert r.returncode != 0 and "Permission denied" in r.stdout, r.stdout
    assert not area.p("x.txt").exists()
    r = scp(ferry.sftp_port, f"rw@{HOST}:/../../../etc/passwd", str(tmp_path / "p"), extra=["-O"])
    assert r.returncode != 0 and not (tmp_path / "p").exists()
    home = ferry.home("wo")
    write_file(home / "w.txt", b"w")
    r = scp(ferry.sftp_port, f"wo@{HOST}:/w.txt", str(tmp_path / "w"), extra=["-O"])
    assert r.returncode != 0 and "Permission denied" in r.stdout
    assert ferry.upload_leftovers() == []
