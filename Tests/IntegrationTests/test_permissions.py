"""Authority (RO / WO / RW), the delete flag, extra folders, and password-hash users."""

import ftplib
import io
import socket

import pytest

from conftest import error_code, parse_ls_lines, random_bytes, reply_code, write_file


def refused(fn, *args) -> int:
    """Runs an ftplib call that must be refused; returns the reply code."""
    with pytest.raises(ftplib.error_perm) as info:
        fn(*args)
    return error_code(info.value)


def listing(f, path="") -> dict:
    lines = []
    f.retrlines(("LIST " + path).strip(), lines.append)
    return parse_ls_lines("\n".join(lines))


# ---------------------------------------------------------------------------------------------
# RO
# ---------------------------------------------------------------------------------------------

def test_read_only_user_cannot_write(ftp_login, ferry, area):
    write_file(area.p("existing.txt"), b"original")
    area.p("emptydir").mkdir()
    f = ftp_login("ro")
    f.cwd(area.vpath)
    assert refused(f.storbinary, "STOR new.txt", io.BytesIO(b"data")) == 550
    assert not area.p("new.txt").exists()
    assert refused(f.storbinary, "STOR existing.txt", io.BytesIO(b"overwrite")) == 550
    assert refused(f.storbinary, "APPE existing.txt", io.BytesIO(b"more")) == 550
    assert area.p("existing.txt").read_bytes() == b"original"
    host, port = f.makepasv()
    with socket.create_connection((host, port), timeout=30):
        code, _ = reply_code(f.sendcmd, "STOU")
    assert code == 550
    assert refused(f.mkd, "newdir") == 550
    assert not area.p("newdir").exists()
    assert refused(f.delete, "existing.txt") == 550
    assert refused(f.rmd, "emptydir") == 550
    assert area.p("emptydir").is_dir()
    code, _ = reply_code(f.rename, "existing.txt", "renamed.txt")
    assert code == 550
    assert area.p("existing.txt").read_bytes() == b"original"
    assert not area.p("renamed.txt").exists()
    assert sorted(p.name for p in area.path.iterdir()) == ["emptydir", "existing.txt"]
    assert not ferry.upload_leftovers()
    # the session is still fine
    assert f.sendcmd("NOOP").startswith("200")


def test_read_only_user_can_read(ftp_login, area):
    data = random_bytes(500_000)
    write_file(area.p("readable.bin"), data)
    f = ftp_login("ro")
    f.cwd(area.vpath)
    buf = io.BytesIO()
    f.retrbinary("RETR readable.bin", buf.write)
    assert buf.getvalue() == data
    buf = io.BytesIO()
    f.retrbinary("RETR readable.bin", buf.write, rest=100)
    assert buf.getvalue() == data[100:]
    assert f.size("readable.bin") == len(data)
    assert "readable.bin" in listing(f)
    assert {n for n, _ in f.mlsd()} >= {"readable.bin"}


# ---------------------------------------------------------------------------------------------
# delete = false
# ---------------------------------------------------------------------------------------------

def test_no_delete_user(ftp_login, area):
    write_file(area.p("precious.txt"), b"keep")
    area.p("emptydir").mkdir()
    f = ftp_login("nodel")
    f.cwd(area.vpath)
    assert refused(f.delete, "precious.txt") == 550
    assert area.p("precious.txt").read_bytes() == b"keep"
    assert refused(f.rmd, "emptydir") == 550
    assert area.p("emptydir").is_dir()
    # writing new things is fine
    f.storbinary("STOR fresh.txt", io.BytesIO(b"fresh"))
    assert area.p("fresh.txt").read_bytes() == b"fresh"
    f.mkd("newdir")
    assert area.p("newdir").is_dir()
    # rename onto an existing name would delete it: refused, both files unchanged
    code, _ = reply_code(f.rename, "fresh.txt", "precious.txt")
    assert code == 550
    assert area.p("precious.txt").read_bytes() == b"keep"
    assert area.p("fresh.txt").read_bytes() == b"fresh"
    # rename to a new name needs no delete permission
    assert f.rename("fresh.txt", "renamed.txt").startswith("250")
    assert area.p("renamed.txt").read_bytes() == b"fresh"
    assert not area.p("fresh.txt").exists()
    # uploading over an existing file destroys it too: refused, the file unchanged
    assert refused(f.storbinary, "STOR precious.txt", io.BytesIO(b"")) == 550
    assert refused(lambda: f.storbinary("STOR precious.txt", io.BytesIO(b"x"), rest=2)) == 550  # resume before the end
    assert area.p("precious.txt").read_bytes() == b"keep"
    # appending (and resuming at the end) keeps every stored byte: allowed
    f.storbinary("APPE precious.txt", io.BytesIO(b" more"))
    f.storbinary("STOR precious.txt", io.BytesIO(b"!"), rest=9)
    assert area.p("precious.txt").read_bytes() == b"keep more!"


# ---------------------------------------------------------------------------------------------
# WO
# ---------------------------------------------------------------------------------------------

def test_write_only_user(ftp_login, make_area):
    wo = make_area("wo")
    write_file(wo.p("secret.txt"), b"you cannot read this")
    f = ftp_login("wo")
    f.cwd(wo.vpath)
    buf = io.BytesIO()
    assert refused(f.retrbinary, "RETR secret.txt", buf.write) == 550
    assert buf.getvalue() == b""
    data = random_bytes(300_000)
    assert f.storbinary("STOR upload.bin", io.BytesIO(data)).startswith("226")
    assert wo.p("upload.bin").read_bytes() == data
    assert refused(f.retrbinary, "RETR upload.bin", buf.write) == 550
    f.mkd("dropbox")
    assert wo.p("dropbox").is_dir()
    entries = listing(f)
    assert {"secret.txt", "upload.bin", "dropbox"} <= set(entries)
    assert entries["upload.bin"]["size"] == len(data)


# ---------------------------------------------------------------------------------------------
# Extra folders
# ---------------------------------------------------------------------------------------------

def test_folder_appears_and_is_read_only(ftp_login, ferry, request):
    shared_root = ferry.root / "shared"
    name = f"readme-{request.node.name}.txt"
    content = "partagé\n".encode() * 100
    write_file(shared_root / name, content)
    f = ftp_login("folders")
    root_entries = listing(f, "/")
    assert "shared" in root_entries, root_entries
    assert root_entries["shared"]["type"] == "d"
    assert "shared" in {n for n, facts in f.mlsd("/") if facts.get("type", "").lower() == "dir"}

    f.cwd("/shared")
    assert f.pwd() == "/shared"
    assert name in listing(f)
    buf = io.BytesIO()
    f.retrbinary(f"RETR {name}", buf.write)
    assert buf.getvalue() == content
    buf = io.BytesIO()
    f.retrbinary(f"RETR /shared/{name}", buf.write)
    assert buf.getvalue() == content

    before = sorted(p.name for p in shared_root.iterdir())
    assert refused(f.storbinary, "STOR /shared/new.txt", io.BytesIO(b"no")) == 550
    assert refused(f.delete, f"/shared/{name}") == 550
    assert refused(f.mkd, "/shared/newdir") == 550
    code, _ = reply_code(f.rename, f"/shared/{name}", "/stolen.txt")
    assert code == 550
    assert sorted(p.name for p in shared_root.iterdir()) == before
    assert (shared_root / name).read_bytes() == content
    assert not ferry.home("folders").joinpath("stolen.txt").exists()

    # the user's own home stays writable
    own = f"mine-{request.node.name}.txt"
    f.storbinary(f"STOR /{own}", io.BytesIO(b"mine"))
    assert ferry.home("folders").joinpath(own).read_bytes() == b"mine"
    assert not (shared_root / own).exists()
    # and nothing moves from home into the read-only folder
    code, _ = reply_code(f.rename, f"/{own}", f"/shared/{own}")
    assert code == 550
    assert not (shared_root / own).exists()
    assert ferry.home("folders").joinpath(own).read_bytes() == b"mine"


# ---------------------------------------------------------------------------------------------
# password_hash users
# ---------------------------------------------------------------------------------------------

def test_hashed_password_user_logs_in(ferry, hashed_password, ftp_login, request):
    assert hashed_password.hash, hashed_password.problem
    f = ftp_login("hashed")
    name = f"hashed-{request.node.name}.txt"
    f.storbinary(f"STOR /{name}", io.BytesIO(b"hashed user was here"))
    assert ferry.home("hashed").joinpath(name).read_bytes() == b"hashed user was here"
