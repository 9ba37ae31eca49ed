"""The S3 storage driver end to end: real FTP clients -> Ferry -> a real S3 server (SeaweedFS), with
every result checked in S3 itself through boto3 (never only through Ferry).

Needs S3_ENDPOINT (see conftest.py: without it these tests fail, unless FERRY_S3_OPTIONAL=1).
Every test works below a key prefix of its own. Checks of what exists list WITHOUT delimiter:
SeaweedFS shows deleted "directories" in delimiter listings for ~140 s (design.md §3).

The fault tests put `faultproxy.FaultProxy` between Ferry and S3.
"""

from __future__ import annotations

import contextlib
import ftplib
import hashlib
import os
import random
import signal
import socket
import struct
import subprocess
import threading
from dataclasses import dataclass

import pytest

from conftest import (HOST, FerryServer, error_code, parse_ls_lines, random_bytes, reply_code, s3_storage_toml, sha256,
                      sha256_file, tree_snapshot, unique_prefix, user_toml, wait_for, write_file)
from faultproxy import FAULT_KINDS

MiB = 1024 * 1024
KiB = 1024

PASSWORDS = {"s3rw": "s3rw-secret", "s3ro": "s3ro-secret", "px": "px-secret"}


# ---------------------------------------------------------------------------------------------
# Fixtures and helpers
# ---------------------------------------------------------------------------------------------

@dataclass
class S3Site:
    """One Ferry for the module; users s3rw (RW, delete) and s3ro (RO) share the home `prefix`."""
    server: FerryServer
    prefix: str  # the key prefix of the users' "/", no trailing slash


@dataclass
class S3Dir:
    """A directory of a test's own: `vpath` as the client sees it, `prefix` its keys' prefix."""
    vpath: str
    prefix: str  # "<site prefix>/<name>" (no trailing slash)

    def v(self, *names: str) -> str:
        return "/".join([self.vpath, *names])

    def key(self, *names: str) -> str:
        return "/".join([self.prefix, *names])


@pytest.fixture(scope="module")
def site(ferry_module_factory, s3_target, s3_bucket) -> S3Site:
    prefix = unique_prefix("s3")
    home = f"s3:{s3_target.bucket}/{prefix}"
    server = ferry_module_factory(
        extra_toml=s3_storage_toml("s3", s3_target),
        users_toml=user_toml("s3rw", PASSWORDS["s3rw"], home, "RW", True)
        + user_toml("s3ro", PASSWORDS["s3ro"], home, "RO", False),
        passwords=PASSWORDS)
    yield S3Site(server, prefix)
    s3_bucket.delete_prefix(prefix + "/")


@pytest.fixture
def s3dir(site, s3_bucket, request) -> S3Dir:
    """A fresh directory (its marker object written directly to S3) in the site's home."""
    name = "t-" + "".join(c if c.isalnum() or c in "-_" else "-" for c in request.node.name)[:60]
    d = S3Dir(vpath=f"/{name}", prefix=f"{site.prefix}/{name}")
    s3_bucket.put(d.prefix + "/")
    return d


def login(server: FerryServer, user: str, timeout: float = 60) -> ftplib.FTP:
    f = ftplib.FTP(encoding="utf-8")
    f.connect(HOST, server.port, timeout=timeout)
    f.login(user, server.passwords[user])
    return f


@pytest.fixture
def ftp_to():
    """`ftp_to(server, user)`: a logged-in ftplib.FTP, closed after the test."""
    opened: list[ftplib.FTP] = []

    def connect(server: FerryServer, user: str, timeout: float = 60) -> ftplib.FTP:
        f = login(server, user, timeout)
        opened.append(f)
        return f

    yield connect
    for f in opened:
        with contextlib.suppress(Exception):
            f.close()


def retr_sha256(ftp: ftplib.FTP, vpath: str, rest: int | None = None) -> tuple[str, int]:
    h = hashlib.sha256()
    size = 0

    def take(chunk):
        nonlocal size
        h.update(chunk)
        size += len(chunk)

    ftp.retrbinary(f"RETR {vpath}", take, blocksize=256 * KiB, rest=rest)
    return h.hexdigest(), size


def stor(ftp: ftplib.FTP, cmd: str, data: bytes, rest: int | None = None) -> tuple[int, str]:
    """Uploads `data` with `cmd` (STOR/APPE) and returns the final reply (code, text), also when the
    server gives up in the middle and closes the data connection (ftplib would only raise
    ConnectionResetError then, and the reply that says why would be lost)."""
    ftp.voidcmd("TYPE I")
    try:
        conn = ftp.transfercmd(cmd, rest)
    except (ftplib.error_perm, ftplib.error_temp) as exc:
        return error_code(exc), str(exc)
    note = ""
    view = memoryview(data)
    with conn:
        try:
            for start in range(0, len(data), 256 * KiB):
                conn.sendall(view[start:start + 256 * KiB])
        except OSError as exc:
            note = f" (the data connection broke after {start} bytes had been sent: {exc!r})"
    code, text = reply_code(ftp.getresp)
    return code, text + note


def reset_socket(sock: socket.socket):
    """Closes with a TCP RST (SO_LINGER 0): an abrupt end, never mistaken for a clean end of data."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


def pending_for(s3_bucket, key: str) -> list[str]:
    """Upload ids of the pending multipart uploads of exactly `key`."""
    return [upload_id for k, upload_id in s3_bucket.pending_uploads(key) if k == key]


def s3_files(objects: dict[str, dict]) -> dict[str, dict]:
    """The objects that are not directory markers."""
    return {k: v for k, v in objects.items() if not k.endswith("/")}


def proxy_server(ferry_factory, s3_target, proxy, prefix: str) -> FerryServer:
    """A Ferry whose S3 storage is reached through `proxy`; user px's home is `prefix`."""
    return ferry_factory(
        extra_toml=s3_storage_toml("s3", s3_target, endpoint=proxy.url),
        users_toml=user_toml("px", PASSWORDS["px"], f"s3:{s3_target.bucket}/{prefix}"),
        passwords=PASSWORDS)


@pytest.fixture
def test_prefix(s3_bucket, request):
    """A key prefix of the test's own (for servers started by the test); emptied afterwards."""
    prefix = unique_prefix(request.node.name)
    yield prefix
    s3_bucket.delete_prefix(prefix + "/")


# ---------------------------------------------------------------------------------------------
# Transfers
# ---------------------------------------------------------------------------------------------

def test_upload_100mib_equals_object_and_downloads_back(site, s3dir, s3_bucket, ftp_to, tmp_path):
    data = random_bytes(100 * MiB, seed=100)
    digest = sha256(data)
    src = write_file(tmp_path / "big.bin", data)
    vpath, key = s3dir.v("big.bin"), s3dir.key("big.bin")

    r = site.server.curl("-T", src, site.server.url(vpath), user="s3rw", timeout=120)
    assert r.returncode == 0, f"curl -T exited {r.returncode}: {r.stderr}"
    # The object in S3 is the file, byte for byte, and the multipart upload is finished.
    assert s3_bucket.sha256(key) == (digest, len(data))
    assert pending_for(s3_bucket, key) == []

    out = tmp_path / "back.bin"
    r = site.server.curl("-o", out, site.server.url(vpath), user="s3rw", timeout=120)
    assert r.returncode == 0, f"curl download exited {r.returncode}: {r.stderr}"
    assert sha256_file(out) == digest

    # Resumed download: REST + RETR of the second half (an odd offset).
    half = len(data) // 2 + 1
    f = ftp_to(site.server, "s3rw")
    assert f.size(vpath) == len(data)
    assert retr_sha256(f, vpath, rest=half) == (sha256(data[half:]), len(data) - half)


def make_small_tree(root, count=200, seed=2):
    """`count` files of 0-20 KiB in a few directories (one empty file, a few odd names) and an
    empty directory."""
    rng = random.Random(seed)
    dirs = ["", "alpha", "alpha/beta", "gamma", "été 2024"]
    odd = ["with space.txt", "plus+sign.bin", "percent%41.bin", "tilde~.bin", "ünïcødé.txt", "日本.bin"]
    for i in range(count):
        name = odd[i] if i < len(odd) else f"f{i:03d}.bin"
        size = 0 if i == len(odd) else rng.randrange(0, 20 * KiB + 1)
        write_file(root / dirs[i % len(dirs)] / name, rng.randbytes(size))
    (root / "gamma" / "empty dir").mkdir()


def test_many_small_files_mirror_up_and_back(site, s3dir, s3_bucket, tmp_path):
    src, back = tmp_path / "src", tmp_path / "back"
    make_small_tree(src)
    expected = tree_snapshot(src)
    files = {rel: v for rel, v in expected.items() if v[0] == "file"}
    assert len(files) == 200 and any(v[1] == 0 for v in files.values())

    r = site.server.lftp(f'mirror -R --no-perms --no-umask --parallel=4 "{src}" "{s3dir.v("tree")}"',
                         user="s3rw", home=tmp_path / "home")
    assert r.returncode == 0, f"mirror -R failed\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"

    # In S3: exactly the 200 files (by key, size and content) plus directory markers.
    base = s3dir.key("tree") + "/"
    objects = s3_bucket.objects(base)
    stored = s3_files(objects)
    assert sorted(k[len(base):] for k in stored) == sorted(files)
    for rel, (_, size, digest) in files.items():
        assert stored[base + rel]["size"] == size, rel
        assert sha256(s3_bucket.get(base + rel)) == digest, rel
    assert base + "gamma/empty dir/" in objects, "the empty directory has no marker"

    r = site.server.lftp(f'mirror --no-perms --no-umask --parallel=4 "{s3dir.v("tree")}" "{back}"',
                         user="s3rw", home=tmp_path / "home")
    assert r.returncode == 0, f"mirror failed\nstdout:\n{r.stdout}\nstderr:\n{r.stderr}"
    assert tree_snapshot(back) == expected


def test_directory_rename_500_objects(site, s3dir, s3_bucket, ftp_to):
    src, dst = s3dir.key("src"), s3dir.key("dst")
    items = {}
    for i in range(500):
        rel = f"sub/n{i:03d}.bin" if i % 5 == 0 else f"f{i:03d}.bin"
        items[rel] = random_bytes(i * 7 % 3000, seed=i)
    s3_bucket.put(src + "/")
    s3_bucket.put(src + "/sub/")
    s3_bucket.put_many({f"{src}/{rel}": data for rel, data in items.items()})
    before = s3_bucket.objects(src + "/")
    assert len(s3_files(before)) == 500

    f = ftp_to(site.server, "s3rw", timeout=120)
    reply = f.rename(s3dir.v("src"), s3dir.v("dst"))
    assert reply.startswith("250"), reply

    after = s3_bucket.objects(dst + "/")
    moved = s3_files(after)
    assert len(moved) == 500, f"{len(moved)} objects under dst/"
    assert set(moved) == {f"{dst}/{rel}" for rel in items}
    for rel in items:  # every object: same size and ETag as its source
        assert moved[f"{dst}/{rel}"] == before[f"{src}/{rel}"], rel
    for rel in sorted(items)[::25]:  # a sample, by content
        assert s3_bucket.get(f"{dst}/{rel}") == items[rel], rel
    assert set(after) - set(moved) <= {dst + "/", dst + "/sub/"}, sorted(set(after) - set(moved))
    assert s3_bucket.objects(src + "/") == {}, "sources left under src/"
    assert not s3_bucket.exists(src + "/")


def test_listing_2500_objects(site, s3dir, s3_bucket, ftp_to):
    odd = ["with space", "plus+sign", "percent%20", "tilde~x", "ünïcødé", "日本語", "semi;colon", "a=b&c"]
    names = {}
    for i in range(2500):
        name = f"{odd[i]}-{i:04d}.txt" if i < len(odd) else f"obj-{i:04d}.txt"
        names[name] = i % 50
    base = s3dir.key("many")
    s3_bucket.put(base + "/")
    s3_bucket.put_many({f"{base}/{n}": b"x" * size for n, size in names.items()})
    s3_bucket.put(f"{base}/sub/")
    s3_bucket.put(f"{base}/sub/nested.txt", b"nested")
    assert len(s3_files(s3_bucket.objects(base + "/"))) == 2501
    expected = set(names) | {"sub"}

    f = ftp_to(site.server, "s3rw")
    path = s3dir.v("many")

    mlsd = dict(f.mlsd(path, facts=["type", "size"]))
    mlsd = {n: facts for n, facts in mlsd.items() if n not in (".", "..")}
    assert len(mlsd) == len(expected) and set(mlsd) == expected, \
        f"MLSD: {len(mlsd)} entries, missing {sorted(expected - set(mlsd))[:10]}, extra {sorted(set(mlsd) - expected)[:10]}"
    assert mlsd["sub"]["type"].lower() == "dir"
    assert {n: int(mlsd[n]["size"]) for n in names} == names

    lines: list[str] = []
    f.retrlines(f"LIST {path}", lines.append)
    listing = parse_ls_lines("\n".join(lines))
    assert len(listing) == len(expected) and set(listing) == expected, \
        f"LIST: {len(listing)} entries, missing {sorted(expected - set(listing))[:10]}"
    assert listing["sub"]["type"] == "d"
    assert {n: listing[n]["size"] for n in names} == names

    nlst = {n.rsplit("/", 1)[-1] for n in f.nlst(path)}
    assert len(nlst) == len(expected) and nlst == expected, \
        f"NLST: {len(nlst)} names, missing {sorted(expected - nlst)[:10]}"


@pytest.mark.parametrize("size", [100 * KiB + 3, 6 * MiB + 5], ids=["small", "above-part-minimum"])
@pytest.mark.parametrize("how", ["APPE", "REST+STOR"])
def test_append_and_resume_upload(fault_proxy, ferry_factory, s3_target, s3_bucket, test_prefix, ftp_to,
                                  how, size):
    """The object becomes the concatenation. Through a pass-through proxy, to see how: an existing part
    of at least 5 MiB must be kept by a server-side copy (UploadPartCopy), not downloaded again."""
    proxy = fault_proxy(mode="pass")
    server = proxy_server(ferry_factory, s3_target, proxy, test_prefix)
    original = random_bytes(size, seed=size)
    more = random_bytes(1 * MiB + 11, seed=size + 1)
    key = f"{test_prefix}/f.bin"
    f = ftp_to(server, "px")
    assert stor(f, "STOR /f.bin", original)[0] == 226
    assert s3_bucket.sha256(key) == (sha256(original), len(original))
    seen_before = len(proxy.snapshot())

    if how == "APPE":
        code, text = stor(f, "APPE /f.bin", more)
        expected = original + more
    else:  # REST + STOR: keep the first `offset` bytes, write from there
        offset = size - 1000 if size > 5 * MiB else 1000
        code, text = stor(f, "STOR /f.bin", more, rest=offset)
        expected = original[:offset] + more
    assert code == 226, text
    assert s3_bucket.sha256(key) == (sha256(expected), len(expected))
    assert pending_for(s3_bucket, key) == []
    assert f.size("/f.bin") == len(expected)
    if size > 5 * MiB:
        requests = proxy.snapshot()[seen_before:]
        copies = [r for r in requests if r.operation == "UploadPart" and r.request_bytes == 0 and r.status == 200]
        downloaded = sum(r.response_bytes for r in requests if r.operation == "GetObject")
        assert copies, ("no UploadPartCopy: the existing part was not copied server-side "
                        f"({downloaded} bytes were read back with GetObject)")


def test_append_creates_missing_file(site, s3dir, s3_bucket, ftp_to):
    data = random_bytes(12345, seed=7)
    f = ftp_to(site.server, "s3rw")
    code, text = stor(f, f"APPE {s3dir.v('new.bin')}", data)
    assert code == 226, text
    assert s3_bucket.get(s3dir.key("new.bin")) == data


# ---------------------------------------------------------------------------------------------
# Faults
# ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kill", ["socket-reset", "curl-sigkill"])
def test_client_killed_mid_upload_leaves_nothing(site, s3dir, s3_bucket, ftp_to, kill):
    """The client dies after 14 MiB (two 5 MiB parts sent, so the multipart upload exists): afterwards
    there is no object and no pending multipart upload."""
    vpath, key = s3dir.v("killed.bin"), s3dir.key("killed.bin")
    chunk = os.urandom(256 * KiB)
    target = 14 * MiB

    if kill == "socket-reset":
        f = login(site.server, "s3rw")
        f.voidcmd("TYPE I")
        conn = f.transfercmd(f"STOR {vpath}")
        for _ in range(target // len(chunk)):
            conn.sendall(chunk)
        started = wait_for(lambda: pending_for(s3_bucket, key), timeout=10, interval=0.1)
        assert not s3_bucket.exists(key), "the object is visible before its upload completed"
        # Kill: both connections reset (a clean close of the data connection would be the end of
        # a complete upload).
        reset_socket(conn)
        reset_socket(f.sock)
    else:
        proc = subprocess.Popen(
            ["curl", "-sS", "--max-time", "60", "-u", f"s3rw:{PASSWORDS['s3rw']}", "-T", "-", site.server.url(vpath)],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(target // len(chunk)):
                proc.stdin.write(chunk)
            proc.stdin.flush()
            started = wait_for(lambda: pending_for(s3_bucket, key), timeout=10, interval=0.1)
            assert not s3_bucket.exists(key), "the object is visible before its upload completed"
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            with contextlib.suppress(OSError):
                proc.stdin.close()
    assert started, "no multipart upload was pending after 14 MiB: the test cannot check its cleanup"

    def clean():
        return not pending_for(s3_bucket, key) and not s3_bucket.exists(key)

    assert wait_for(clean, timeout=10, interval=0.2), (
        f"10 s after the client died: object exists={s3_bucket.exists(key)} "
        f"(size {(s3_bucket.head(key) or {}).get('ContentLength')}), pending uploads={pending_for(s3_bucket, key)}")
    # The server is fine and the directory shows nothing.
    f2 = ftp_to(site.server, "s3rw")
    assert "killed.bin" not in {n.rsplit("/", 1)[-1] for n in f2.nlst(s3dir.vpath)}


def test_s3_down_mid_upload_gives_451_and_no_object(fault_proxy, ferry_factory, s3_target, s3_bucket,
                                                     test_prefix, ftp_to):
    proxy = fault_proxy(mode="pass")
    server = proxy_server(ferry_factory, s3_target, proxy, test_prefix)
    key = f"{test_prefix}/down.bin"
    f = ftp_to(server, "px")
    f.voidcmd("TYPE I")
    conn = f.transfercmd("STOR /down.bin")
    outcome: dict = {}

    def send():
        chunk = os.urandom(256 * KiB)
        sent = 0
        try:
            while sent < 80 * MiB:
                conn.sendall(chunk)
                sent += len(chunk)
            conn.close()  # would complete the upload
            outcome["completed"] = sent
        except OSError as exc:
            outcome["error"] = exc
            outcome["sent"] = sent
            reset_socket(conn)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    # S3 stops once the upload is under way (at least one part stored).
    assert wait_for(lambda: proxy.completed("UploadPart"), timeout=30, interval=0.05), \
        "no part was uploaded through the proxy"
    proxy.go_down()
    sender.join(90)
    assert not sender.is_alive(), "the client is still sending 90 s after S3 went down"
    assert "completed" not in outcome, "all 80 MiB were accepted although S3 was down"

    code, text = reply_code(f.getresp)
    assert code == 451, f"final reply to STOR: {text!r}"
    assert f.voidcmd("NOOP").startswith("200")  # the session goes on
    # Nothing in S3 (seen directly, not through the proxy).
    assert not s3_bucket.exists(key)
    assert key not in s3_bucket.objects(test_prefix + "/")


@pytest.mark.parametrize("fault", [k for k in FAULT_KINDS if k != "cut"])  # "cut" only differs for GetObject
def test_upload_completes_through_faulty_s3(fault, fault_proxy, ferry_factory, s3_target, s3_bucket,
                                            test_prefix, ftp_to):
    """A 20 MiB upload (four parts and a bit) completes although 20 % of the S3 requests fail."""
    proxy = fault_proxy(mode="faults", fault=fault, every=5, phase=1)
    server = proxy_server(ferry_factory, s3_target, proxy, test_prefix)
    data = random_bytes(20 * MiB + 99, seed=20)
    key = f"{test_prefix}/up.bin"

    code, text = stor(ftp_to(server, "px"), "STOR /up.bin", data)
    assert code == 226, f"upload: {text!r}"
    assert s3_bucket.sha256(key) == (sha256(data), len(data))
    assert pending_for(s3_bucket, key) == []
    faults = proxy.faulted_operations()
    for op in ("CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload"):
        assert faults[op] > 0, f"no fault met {op}: {dict(faults)}"
    assert not proxy.errors


@pytest.mark.parametrize("fault", FAULT_KINDS)
def test_download_completes_through_faulty_s3(fault, fault_proxy, ferry_factory, s3_target, s3_bucket,
                                              test_prefix, ftp_to):
    """A 20 MiB download (written to S3 directly) completes although 20 % of the S3 requests fail,
    the download's GetObject among them; also resumed from an offset."""
    data = random_bytes(20 * MiB + 77, seed=21)
    s3_bucket.put(f"{test_prefix}/down.bin", data)
    proxy = fault_proxy(mode="faults", fault=fault, every=5, phase=1)
    server = proxy_server(ferry_factory, s3_target, proxy, test_prefix)
    f = ftp_to(server, "px")

    h = hashlib.sha256()
    code, text = reply_code(f.retrbinary, "RETR /down.bin", h.update, 256 * KiB)
    assert code == 226, f"download: {text!r}"
    assert h.hexdigest() == sha256(data)
    assert proxy.faulted_operations()["GetObject"] > 0, f"the download met no fault: {dict(proxy.faulted_operations())}"

    offset = 7 * MiB + 3
    h = hashlib.sha256()
    code, text = reply_code(f.retrbinary, "RETR /down.bin", h.update, 256 * KiB, offset)
    assert code == 226, f"download from {offset}: {text!r}"
    assert h.hexdigest() == sha256(data[offset:])
    assert not proxy.errors


# ---------------------------------------------------------------------------------------------
# Permissions
# ---------------------------------------------------------------------------------------------

def test_read_only_user_cannot_write_to_s3(site, s3dir, s3_bucket, ftp_to):
    existing = random_bytes(5000, seed=3)
    s3_bucket.put(s3dir.key("existing.bin"), existing)
    s3_bucket.put(s3dir.key("sub") + "/")
    before = s3_bucket.objects(s3dir.prefix + "/")
    ro = ftp_to(site.server, "s3ro")

    for cmd in (f"STOR {s3dir.v('new.bin')}", f"APPE {s3dir.v('existing.bin')}", f"STOR {s3dir.v('existing.bin')}"):
        code, text = stor(ro, cmd, b"y" * 100_000)
        assert code == 550, f"{cmd}: {text}"
    assert reply_code(ro.mkd, s3dir.v("newdir"))[0] == 550
    assert reply_code(ro.delete, s3dir.v("existing.bin"))[0] == 550
    assert reply_code(ro.rmd, s3dir.v("sub"))[0] == 550
    assert reply_code(ro.rename, s3dir.v("existing.bin"), s3dir.v("moved.bin"))[0] == 550

    assert not s3_bucket.exists(s3dir.key("new.bin"))
    assert s3_bucket.objects(s3dir.prefix + "/") == before
    assert s3_bucket.get(s3dir.key("existing.bin")) == existing
    assert s3_bucket.pending_uploads(s3dir.prefix + "/") == []
    # Reading is allowed.
    assert retr_sha256(ro, s3dir.v("existing.bin")) == (sha256(existing), len(existing))


# ---------------------------------------------------------------------------------------------
# SFTP over S3 (issue 5)
# ---------------------------------------------------------------------------------------------

def test_sftp_round_trip_on_s3(site, s3dir, s3_bucket, tmp_path):
    """OpenSSH sftp put/get of a multipart-sized file; the object in S3 is the file."""
    import sshsupport

    data = random_bytes(12 * MiB + 17, seed=61)
    (tmp_path / "up.bin").write_bytes(data)
    r = sshsupport.sftp_batch(site.server.sftp_port, "s3rw",
                              f"put up.bin {s3dir.v('up.bin')}\nls -l {s3dir.vpath}\nget {s3dir.v('up.bin')} back.bin\n",
                              cwd=tmp_path)
    assert r.returncode == 0, r.stdout
    assert s3_bucket.get(s3dir.key("up.bin")) == data
    assert (tmp_path / "back.bin").read_bytes() == data
    assert pending_for(s3_bucket, s3dir.key("up.bin")) == []


def test_sftp_session_killed_mid_upload_leaves_nothing(site, s3dir, s3_bucket):
    """The SSH connection dies after 14 MiB of WRITEs (a multipart upload is pending): afterwards there
    is no object and no pending multipart upload."""
    import sshsupport

    key = s3dir.key("killed-sftp.bin")
    client = sshsupport.paramiko_sftp(site.server.sftp_port, "s3rw")
    transport = client.get_channel().get_transport()
    try:
        f = client.open(s3dir.v("killed-sftp.bin"), "wb")
        f.set_pipelined(True)
        chunk = os.urandom(32 * KiB)
        for _ in range(14 * MiB // len(chunk)):
            f.write(chunk)
        started = wait_for(lambda: pending_for(s3_bucket, key), timeout=10, interval=0.1)
        assert not s3_bucket.exists(key), "the object is visible before its upload completed"
    finally:
        reset_socket(transport.sock)
        transport.close()
    assert started, "no multipart upload was pending after 14 MiB: the test cannot check its cleanup"

    def clean():
        return not pending_for(s3_bucket, key) and not s3_bucket.exists(key)

    assert wait_for(clean, timeout=15, interval=0.2), (
        f"after the session died: object exists={s3_bucket.exists(key)}, pending={pending_for(s3_bucket, key)}")
    assert "session ended before CLOSE" in site.server.log_text()
