"""Home isolation on every byte (issue 10): a traversal corpus over FTP, SFTP and legacy scp, judged
from the storage side. `/` followed by a combining mark (U+0301), a zero-width joiner (U+200D) or a
variation selector (U+FE0F) is one Swift Character but two names on disk; paths are split on the
byte 0x2F, so `/../\u0301x` is `..` then `\u0301x` and stays inside the home.

Also: rename (RNTO, SFTP rename and posix-rename) into a directory that does not exist fails like
STOR and MKD do, and creates nothing."""

from __future__ import annotations

import hashlib
import io
import os
import uuid

import paramiko
import pytest

from conftest import HOST, reply_code, write_file
from sshsupport import paramiko_sftp, scp

JOINERS = ["\u0301", "\u200d", "\ufe0f"]


def corpus(tag: str) -> list[str]:
    """Paths aimed outside user rw's home (`files/rw`): climbs written with joiners at several depths,
    and the classic spellings."""
    paths = [f"../x-{tag}", f"/../../x-{tag}", f"..\\x-{tag}", f"%2e%2e/x-{tag}", f"\uff0e\uff0e/x-{tag}",
             f"....//....//....//x-{tag}"]
    for joiner in JOINERS:
        for depth in (1, 2, 3):
            climb = "/.." * depth
            paths += [f"{climb}/{joiner}x-{tag}", f"{climb}/{joiner}/x-{tag}", f"sub{climb}/{joiner}y-{tag}",
                      f"{climb}/{joiner}/../secret-{tag}.txt"]
    return paths


def outside_home(root, home) -> dict[str, str]:
    """Every file and directory below the storage root that is not inside `home` (nor an upload in
    progress), with a digest of its content."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            if rel.startswith(".ferry-uploads") or os.path.realpath(full).startswith(str(home.resolve()) + os.sep):
                continue
            found[rel] = hashlib.sha256(open(full, "rb").read()).hexdigest() if os.path.isfile(full) else "dir"
    return found


@pytest.fixture
def isolated(ferry):
    tag = uuid.uuid4().hex[:8]
    secret = write_file(ferry.root / "files" / f"secret-{tag}.txt", b"SENTINEL")
    (ferry.home("rw") / "sub").mkdir(exist_ok=True)
    before = outside_home(ferry.root, ferry.home("rw"))
    yield tag, before
    secret.unlink(missing_ok=True)


def test_ftp_corpus_changes_nothing_outside_the_home(ferry, ftp_login, isolated):
    tag, before = isolated
    f = ftp_login()
    f.storbinary(f"STOR movable-{tag}.txt", io.BytesIO(b"movable"))
    for path in corpus(tag):
        f.cwd("/")
        reply_code(f.mkd, path)
        reply_code(f.storbinary, f"STOR {path}", io.BytesIO(b"ESCAPED"))
        reply_code(f.storbinary, f"APPE {path}", io.BytesIO(b"ESCAPED"))
        if reply_code(f.sendcmd, f"RNFR movable-{tag}.txt")[0] == 350:
            code, _ = reply_code(f.sendcmd, f"RNTO {path}")
            if code == 250:  # landed inside the home: move it back for the next try
                f.rename(path, f"/movable-{tag}.txt")
        reply_code(f.delete, path)
        reply_code(f.rmd, path)
        buf = io.BytesIO()
        reply_code(f.retrbinary, f"RETR {path}", buf.write)
        assert b"SENTINEL" not in buf.getvalue(), path
        if reply_code(f.sendcmd, f"CWD {path}")[0] == 250:
            assert ".." not in f.pwd().split("/"), (path, f.pwd())
        assert outside_home(ferry.root, ferry.home("rw")) == before, f"after {path!r}"
    # What the joiner paths name exists inside the home: the name after `/..` starts with the joiner.
    f.cwd("/")
    f.mkd(f"/../{JOINERS[0]}made-{tag}")
    assert (ferry.home("rw") / f"{JOINERS[0]}made-{tag}").is_dir()


def test_sftp_corpus_changes_nothing_outside_the_home(ferry, isolated):
    tag, before = isolated
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        with client.open(f"/movable-{tag}.txt", "wb") as fh:
            fh.write(b"movable")
        for path in corpus(tag):
            for action in (lambda: client.mkdir(path),
                           lambda: client.open(path, "wb").close(),
                           lambda: client.rename(f"/movable-{tag}.txt", path),
                           lambda: client.posix_rename(f"/movable-{tag}.txt", path),
                           lambda: client.remove(path),
                           lambda: client.rmdir(path)):
                try:
                    action()
                except (IOError, OSError):
                    pass
                if not (ferry.home("rw") / f"movable-{tag}.txt").exists():  # renamed inside the home: back
                    client.posix_rename(client.normalize(path), f"/movable-{tag}.txt")
            try:
                with client.open(path, "rb") as fh:
                    assert b"SENTINEL" not in fh.read(), path
            except IOError:
                pass
            normalized = client.normalize(path)
            assert normalized.startswith("/") and ".." not in normalized.split("/"), (path, normalized)
            assert outside_home(ferry.root, ferry.home("rw")) == before, f"after {path!r}"
        # realpath answers the byte-resolved path: `..` is gone, the joiner starts a name.
        assert client.normalize(f"/../{JOINERS[0]}") == f"/{JOINERS[0]}"
        assert client.normalize(f"/a/../../{JOINERS[1]}b") == f"/{JOINERS[1]}b"


def test_legacy_scp_corpus_changes_nothing_outside_the_home(ferry, isolated, tmp_path):
    tag, before = isolated
    source = write_file(tmp_path / "up.txt", b"ESCAPED")
    for joiner in JOINERS:
        for depth in (1, 2):
            climb = "../" * depth
            scp(ferry.sftp_port, str(source), f"rw@{HOST}:/{climb}{joiner}s-{tag}.txt", extra=["-O"])
            scp(ferry.sftp_port, str(source), f"rw@{HOST}:{climb}{joiner}/s-{tag}.txt", extra=["-O"])
            back = tmp_path / f"back-{depth}"
            scp(ferry.sftp_port, f"rw@{HOST}:/{climb}{joiner}/../secret-{tag}.txt", str(back), extra=["-O"])
            assert not back.exists() or b"SENTINEL" not in back.read_bytes()
            assert outside_home(ferry.root, ferry.home("rw")) == before, (joiner, depth)
    # The joiner path landed inside the home, as the byte-resolved name.
    assert (ferry.home("rw") / f"{JOINERS[0]}s-{tag}.txt").read_bytes() == b"ESCAPED"


def test_rename_into_a_missing_directory_fails(ferry, ftp_login, area):
    write_file(area.p("a.txt"), b"a")
    area.p("d").mkdir()
    f = ftp_login()
    f.cwd(area.vpath)
    for target in ("missing/q.txt", "....//....//....//q.txt", "a.txt/q.txt", "d/missing/q.txt"):
        f.sendcmd("RNFR a.txt")
        code, text = reply_code(f.sendcmd, f"RNTO {target}")
        assert code == 550, (target, text)
        f.sendcmd("RNFR d")
        code, text = reply_code(f.sendcmd, f"RNTO {target}")
        assert code == 550, (target, text)
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        for target in ("missing/q.txt", "..../..../q.txt", "d/missing/q.txt"):
            for rename in (client.rename, client.posix_rename):
                with pytest.raises(FileNotFoundError):
                    rename(f"{area.vpath}/a.txt", f"{area.vpath}/{target}")
    assert sorted(os.listdir(area.path)) == ["a.txt", "d"]
    assert os.listdir(area.p("d")) == []
    # Into an existing directory it works.
    f.rename("a.txt", "d/a.txt")
    assert area.p("d", "a.txt").read_bytes() == b"a"


def test_names_starting_with_a_combining_mark_work_over_ftp(ferry, ftp_login, area):
    """The command line splits on the space byte: a relative name whose first character is a
    combining mark (one Character with the space before it) is an argument like any other."""
    f = ftp_login()
    f.cwd(area.vpath)
    for name in ("\u0301x.txt", "\u200dzwj.txt", "\ufe0fvs.txt"):
        f.storbinary(f"STOR {name}", io.BytesIO(name.encode()))
        assert area.p(name).read_bytes() == name.encode(), name
        assert f.size(name) == len(name.encode())
    f.mkd("\u0301dir")
    assert area.p("\u0301dir").is_dir()
    assert sorted(os.listdir(area.path)) == sorted(["\u0301x.txt", "\u200dzwj.txt", "\ufe0fvs.txt", "\u0301dir"])
