"""Modification times (issue 13, part 3, first part): FTP MFMT and SITE UTIME, SFTP SETSTAT and
FSETSTAT (paramiko's utime, OpenSSH `sftp put -p`) set a file's time; MDTM, MLST and SFTP stat show
it. On S3 it is stored as rclone stores it (`x-amz-meta-mtime`), by a server-side metadata rewrite
that keeps the bytes and the stored checksums; on local storage it is the file's mtime. (Listings do
not show stored times yet: that is the part still to come.)"""

from __future__ import annotations

import io
import os
import time

import pytest

from conftest import random_bytes, s3_storage_toml, sha256, unique_prefix, user_toml, write_file
from sshsupport import paramiko_sftp, sftp_batch

PASSWORD = "times-secret"
WHEN = 1354040105  # 2012-11-27T18:15:05Z


@pytest.fixture(scope="module")
def s3_site(ferry_module_factory, s3_target, s3_bucket):
    prefix = unique_prefix("times")
    server = ferry_module_factory(extra_toml=s3_storage_toml("s3", s3_target),
                                  users_toml=user_toml("timer", PASSWORD, f"s3:{s3_target.bucket}/{prefix}")
                                  + user_toml("viewer", PASSWORD, f"s3:{s3_target.bucket}/{prefix}", "RO", False),
                                  passwords={"timer": PASSWORD, "viewer": PASSWORD})
    yield server, prefix
    s3_bucket.delete_prefix(prefix + "/")


def test_ftp_mfmt_and_site_utime_on_s3(s3_site, s3_bucket):
    server, prefix = s3_site
    data = random_bytes(300_000, seed=3)
    with server.ftp("timer") as f:
        f.storbinary("STOR stamped.bin", io.BytesIO(data))
        before = s3_bucket.head(f"{prefix}/stamped.bin")
        assert f.sendcmd("MFMT 20121127181505 stamped.bin") == "213 Modify=20121127181505; stamped.bin"
        assert f.sendcmd("MDTM stamped.bin") == "213 20121127181505"
        assert "modify=20121127181505;" in f.sendcmd("MLST stamped.bin")
        head = s3_bucket.head(f"{prefix}/stamped.bin")
        assert head["Metadata"]["mtime"] == str(WHEN)  # rclone's key and form
        # The bytes and the stored checksums are kept.
        assert head["ContentLength"] == len(data) and sha256(s3_bucket.get(f"{prefix}/stamped.bin")) == sha256(data)
        assert head["Metadata"].get("sha256") == before["Metadata"].get("sha256") and head["Metadata"].get("sha256")
        assert f.sendcmd("SITE UTIME 20200102030405 stamped.bin").startswith("200")
        assert f.sendcmd("MDTM stamped.bin") == "213 20200102030405"
        with pytest.raises(Exception) as refused:
            f.sendcmd("MFMT 20121127181505 nothing-here.bin")
        assert str(refused.value).startswith("550")
    with server.ftp("viewer") as f:  # read-only: no setting times
        with pytest.raises(Exception) as refused:
            f.sendcmd("MFMT 20121127181505 stamped.bin")
        assert str(refused.value).startswith("550")
        assert f.sendcmd("MDTM stamped.bin") == "213 20200102030405"


def test_sftp_setstat_and_put_p_on_s3(s3_site, s3_bucket, tmp_path):
    server, prefix = s3_site
    with paramiko_sftp(server.sftp_port, "timer", password=PASSWORD) as client:
        with client.open("utime.txt", "wb") as f:
            f.write(b"set my time\n")
        client.utime("utime.txt", (WHEN, WHEN))
        assert client.stat("utime.txt").st_mtime == WHEN
    assert s3_bucket.head(f"{prefix}/utime.txt")["Metadata"]["mtime"] == str(WHEN)
    # OpenSSH `put -p` sets the local file's time on the upload.
    local = write_file(tmp_path / "kept.txt", b"keep my time\n", mtime=WHEN - 3600)
    r = sftp_batch(server.sftp_port, "timer", f'put -p "{local}" kept.txt\n', key=None, password=PASSWORD)
    assert r.returncode == 0, r.stdout
    assert s3_bucket.head(f"{prefix}/kept.txt")["Metadata"]["mtime"] == str(WHEN - 3600)
    back = tmp_path / "back.txt"
    r = sftp_batch(server.sftp_port, "timer", f'get -p kept.txt "{back}"\n', key=None, password=PASSWORD)
    assert r.returncode == 0, r.stdout
    assert int(os.stat(back).st_mtime) == WHEN - 3600


def test_local_storage_times(ferry, area):
    write_file(area.p("local.txt"), b"local bytes")
    with ferry.ftp("rw") as f:
        assert f.sendcmd(f"MFMT 20121127181505 {area.vpath}/local.txt").startswith("213 Modify=20121127181505")
        assert f.sendcmd(f"MDTM {area.vpath}/local.txt") == "213 20121127181505"
    assert area.p("local.txt").stat().st_mtime == WHEN
    assert area.p("local.txt").read_bytes() == b"local bytes"
