"""curl as the client: upload, download, list, mkdir, rename, delete, resume both ways."""

import pytest

from conftest import parse_ls_lines, random_bytes, sha256, sha256_file, write_file


def test_upload(ferry, area, tmp_path):
    data = random_bytes(3 * 1024 * 1024 + 17)
    local = write_file(tmp_path / "up.bin", data)
    r = ferry.curl("-T", local, ferry.url(area.v("up.bin")))
    assert r.returncode == 0, r.stderr
    stored = area.p("up.bin")
    assert stored.is_file()
    assert sha256_file(stored) == sha256(data)
    assert not ferry.upload_leftovers()


def test_upload_name_with_space_and_unicode(ferry, area, tmp_path):
    data = b"caf\xc3\xa9\n" * 100
    local = write_file(tmp_path / "x.txt", data)
    r = ferry.curl("-T", local, ferry.url(area.v("naïve file.txt")))
    assert r.returncode == 0, r.stderr
    assert area.p("naïve file.txt").read_bytes() == data


@pytest.mark.parametrize("mode", [
    ["--ftp-pasv"],                      # EPSV first, as curl does by default
    ["--ftp-pasv", "--disable-epsv"],    # PASV
    ["-P", "127.0.0.1"],                 # active: EPRT
    ["-P", "127.0.0.1", "--disable-eprt"],  # active: PORT
], ids=["epsv", "pasv", "eprt", "port"])
def test_download(ferry, area, tmp_path, mode):
    data = random_bytes(2 * 1024 * 1024 + 3)
    write_file(area.p("down.bin"), data)
    out = tmp_path / "out.bin"
    r = ferry.curl(*mode, "-o", out, ferry.url(area.v("down.bin")))
    assert r.returncode == 0, r.stderr
    assert sha256_file(out) == sha256(data)


def test_download_missing_file_fails(ferry, area, tmp_path):
    out = tmp_path / "out.bin"
    r = ferry.curl("-o", out, ferry.url(area.v("does-not-exist.bin")))
    # 78 = CURLE_REMOTE_FILE_NOT_FOUND (550 on RETR or SIZE)
    assert r.returncode == 78, (r.returncode, r.stderr)


def test_list_directory(ferry, area):
    write_file(area.p("alpha.txt"), b"a" * 10)
    write_file(area.p("with space.bin"), b"b" * 1234)
    write_file(area.p("été.txt"), b"")
    area.p("subdir").mkdir()
    r = ferry.curl(ferry.url(area.vpath + "/"))
    assert r.returncode == 0, r.stderr
    entries = parse_ls_lines(r.stdout)
    assert set(entries) == {"alpha.txt", "with space.bin", "été.txt", "subdir"}, r.stdout
    assert entries["alpha.txt"]["type"] == "-" and entries["alpha.txt"]["size"] == 10
    assert entries["with space.bin"]["size"] == 1234
    assert entries["été.txt"]["size"] == 0
    assert entries["subdir"]["type"] == "d"

    # NLST (--list-only): bare names
    r = ferry.curl("--list-only", ferry.url(area.vpath + "/"))
    assert r.returncode == 0, r.stderr
    names = {line.rsplit("/", 1)[-1] for line in r.stdout.replace("\r\n", "\n").split("\n") if line}
    assert {"alpha.txt", "with space.bin", "été.txt"} <= names, r.stdout


def test_mkdir_with_create_dirs(ferry, area, tmp_path):
    data = b"nested upload\n"
    local = write_file(tmp_path / "f.txt", data)
    r = ferry.curl("--ftp-create-dirs", "-T", local, ferry.url(area.v("new1", "new2", "f.txt")))
    assert r.returncode == 0, r.stderr
    assert area.p("new1").is_dir() and area.p("new1", "new2").is_dir()
    assert area.p("new1", "new2", "f.txt").read_bytes() == data


def test_mkdir_with_quote(ferry, area):
    r = ferry.curl("-Q", f"MKD {area.v('made')}", ferry.url(area.vpath + "/"))
    assert r.returncode == 0, r.stderr
    assert area.p("made").is_dir()
    # the listing that follows the quote command already shows it
    assert parse_ls_lines(r.stdout)["made"]["type"] == "d"


def test_mkdir_existing_fails(ferry, area):
    area.p("exists").mkdir()
    r = ferry.curl("-Q", f"MKD {area.v('exists')}", ferry.url(area.vpath + "/"))
    assert r.returncode == 21, (r.returncode, r.stderr)  # CURLE_QUOTE_ERROR


def test_rename(ferry, area):
    data = random_bytes(100_000)
    write_file(area.p("a.bin"), data)
    r = ferry.curl("-Q", f"RNFR {area.v('a.bin')}", "-Q", f"RNTO {area.v('b.bin')}", ferry.url(area.vpath + "/"))
    assert r.returncode == 0, r.stderr
    assert not area.p("a.bin").exists()
    assert area.p("b.bin").read_bytes() == data
    assert set(parse_ls_lines(r.stdout)) == {"b.bin"}


def test_delete(ferry, area):
    write_file(area.p("x.txt"), b"delete me")
    write_file(area.p("keep.txt"), b"keep me")
    r = ferry.curl("-Q", f"DELE {area.v('x.txt')}", ferry.url(area.vpath + "/"))
    assert r.returncode == 0, r.stderr
    assert not area.p("x.txt").exists()
    assert area.p("keep.txt").read_bytes() == b"keep me"
    assert set(parse_ls_lines(r.stdout)) == {"keep.txt"}


def test_delete_missing_fails(ferry, area):
    r = ferry.curl("-Q", f"DELE {area.v('nothing.txt')}", ferry.url(area.vpath + "/"))
    assert r.returncode == 21, (r.returncode, r.stderr)  # CURLE_QUOTE_ERROR: the 550 reached curl


def test_resume_upload(ferry, area, tmp_path):
    data = random_bytes(5 * 1024 * 1024 + 123)
    half = len(data) // 2
    write_file(area.p("resume.bin"), data[:half])   # an interrupted earlier upload
    local = write_file(tmp_path / "full.bin", data)
    r = ferry.curl("-C", "-", "-T", local, ferry.url(area.v("resume.bin")))
    assert r.returncode == 0, r.stderr
    assert area.p("resume.bin").stat().st_size == len(data)
    assert sha256_file(area.p("resume.bin")) == sha256(data)
    assert not ferry.upload_leftovers()


def test_resume_download(ferry, area, tmp_path):
    data = random_bytes(5 * 1024 * 1024 + 321)
    write_file(area.p("big.bin"), data)
    out = write_file(tmp_path / "partial.bin", data[: len(data) // 3])
    r = ferry.curl("-C", "-", "-o", out, ferry.url(area.v("big.bin")))
    assert r.returncode == 0, r.stderr
    assert out.stat().st_size == len(data)
    assert sha256_file(out) == sha256(data)

