"""Folders kept in sync through Ferry on S3 (issue 13): a second run of a sync tool over an unchanged
tree transfers nothing, because the times the first run set are stored and listings show them.
`lftp mirror -R` (FTP, MFMT), `rclone sync` over SFTP (SETSTAT) and over FTP (MFMT); a changed file
is then the only one sent again. Counted from Ferry's own log (every upload logs `transfer complete`)."""
from __future__ import annotations

import os
import subprocess

import pytest

import sshsupport
from conftest import HOST, make_tree, random_bytes, s3_storage_toml, unique_prefix, user_toml, write_file

USER, PASSWORD = "syncer", "sync-pass-8642"
OLD = 1_420_070_400  # 2015-01-01T00:00:00Z


@pytest.fixture(scope="module")
def site(ferry_module_factory, s3_target, s3_bucket):
    prefix = unique_prefix("sync-twice")
    server = ferry_module_factory(extra_toml=s3_storage_toml("s3", s3_target),
                                  users_toml=user_toml(USER, PASSWORD, f"s3:{s3_target.bucket}/{prefix}"),
                                  passwords={USER: PASSWORD})
    yield server
    s3_bucket.delete_prefix(prefix + "/")


def uploads_since(server, mark: int) -> list[str]:
    return [line for line in server.log_text(mark).splitlines()
            if "transfer complete" in line and "direction=upload" in line]


def source_tree(root) -> int:
    """The tree to sync, its files dated years back: a listing that showed upload times instead of
    the times the first run set would differ from them by far more than any tool's tolerance."""
    make_tree(root)
    write_file(root / "big.bin", random_bytes(7 * 1024 * 1024, seed=77))  # multipart: its time is set by a multipart copy
    files = [path for path in root.rglob("*") if path.is_file()]
    for index, path in enumerate(files):
        os.utime(path, (OLD + index * 3600, OLD + index * 3600))
    return len(files)


def test_lftp_mirror_twice_uploads_nothing(site, tmp_path):
    src = tmp_path / "src"
    files = source_tree(src)
    command = f'mirror -R --no-perms --no-umask "{src}" /lftp'
    mark = site.log_size()
    r = site.lftp(command, user=USER, home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert len(uploads_since(site, mark)) == files
    mark = site.log_size()
    r = site.lftp(command, user=USER, home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert uploads_since(site, mark) == []
    # One file changed (same size, new time): only it goes again.
    write_file(src / "big.bin", random_bytes(7 * 1024 * 1024, seed=78), mtime=OLD + 400 * 86_400)
    mark = site.log_size()
    r = site.lftp(command, user=USER, home=tmp_path / "home")
    assert r.returncode == 0, r.stderr
    assert [line for line in uploads_since(site, mark) if "big.bin" in line] and len(uploads_since(site, mark)) == 1


def rclone(*args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sshsupport.rclone_binary(), *args], env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("protocol", ["sftp", "ftp"])
def test_rclone_sync_twice_transfers_nothing(site, tmp_path, protocol):
    src = tmp_path / "src"
    files = source_tree(src)
    obscured = rclone("obscure", PASSWORD).stdout.strip()
    port = site.sftp_port if protocol == "sftp" else site.port
    remote = f":{protocol},host={HOST},port={port},user={USER},pass={obscured}:/rclone-{protocol}"
    env = dict(os.environ, RCLONE_CONFIG="/dev/null")
    # SeaweedFS keeps no metadata on directory markers, so Ferry refuses directory times there
    # (test_times.py): rclone is told not to set them, as the README says for such a store. (On a
    # store that keeps them, listings show the times the first run set, and rclone sets none again.)
    sync = ("sync", "--no-update-dir-modtime") if protocol == "sftp" else ("sync",)
    mark = site.log_size()
    r = rclone(*sync, str(src), remote, env=env)
    assert r.returncode == 0, r.stderr
    assert len(uploads_since(site, mark)) == files
    mark = site.log_size()
    r = rclone(*sync, str(src), remote, "-v", env=env)
    assert r.returncode == 0, r.stderr
    assert uploads_since(site, mark) == [], r.stderr
    assert "Copied" not in r.stderr, r.stderr
    # No file time to fix either: the listing already shows the times the first run set.
    assert "Updated modification time" not in r.stderr, r.stderr
