"""Modification times (issue 13, part 3, first part): FTP MFMT and SITE UTIME, SFTP SETSTAT and
FSETSTAT (paramiko's utime, OpenSSH `sftp put -p`) set a file's time; MDTM, MLST and SFTP stat show
it. On S3 it is stored as rclone stores it (`x-amz-meta-mtime`), by a server-side metadata rewrite
that keeps the bytes and the stored checksums; on local storage it is the file's mtime. Listings
(LIST, MLSD, SFTP READDIR) show it too: on S3 read by HeadObject once per file and remembered until
the object changes, or not at all with `listing_times = "last_modified"`. Directories keep a time
too, on their markers (a store that drops markers' metadata, SeaweedFS, refuses it; moto keeps it)
or as their mtime on local storage."""

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
    # OpenSSH `put -p` sets the local file's time on the open upload (FSETSTAT before CLOSE): it is
    # stored with the object, no rewrite follows.
    local = write_file(tmp_path / "kept.txt", b"keep my time\n", mtime=WHEN - 3600)
    mark = server.log_size()
    r = sftp_batch(server.sftp_port, "timer", f'put -p "{local}" kept.txt\n', key=None, password=PASSWORD)
    assert r.returncode == 0, r.stdout
    assert s3_bucket.head(f"{prefix}/kept.txt")["Metadata"]["mtime"] == str(WHEN - 3600)
    log = server.log_text(mark)
    assert "modification time set" in log and "with=upload" in log, log[-3000:]
    assert "operation=CopyObject" not in log, log[-3000:]
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
    # A directory's time: MFMT on it, MLST shows it, the directory's own mtime holds it.
    area.p("local-dir").mkdir()
    with ferry.ftp("rw") as f:
        assert f.sendcmd(f"MFMT 20121127181505 {area.vpath}/local-dir").startswith("213 Modify=20121127181505")
        assert "modify=20121127181505;" in f.sendcmd(f"MLST {area.vpath}/local-dir")
    assert area.p("local-dir").stat().st_mtime == WHEN


def test_directory_times_on_a_store_that_cannot_keep_them_are_refused(s3_site, s3_bucket):
    """SeaweedFS turns a directory marker into a directory of its own, which keeps no metadata: a
    directory's time is refused (SFTP OP_UNSUPPORTED, FTP 550), never answered OK without effect,
    and the directory and its files are untouched. (A store that keeps markers' metadata, like AWS
    S3, gets the time on the marker: the storage conformance suite checks both behaviours.)"""
    server, prefix = s3_site
    with server.ftp("timer") as f:
        f.mkd("dated")
        f.storbinary("STOR dated/inside.txt", io.BytesIO(b"inside"))
        with pytest.raises(Exception) as refused:
            f.sendcmd("MFMT 20121127181505 dated")
        assert str(refused.value).startswith("550"), refused.value
        assert "modify=20121127181505;" not in f.sendcmd("MLST dated")
    with paramiko_sftp(server.sftp_port, "timer", password=PASSWORD) as client:
        with pytest.raises(IOError) as refused:
            client.utime("dated", (WHEN, WHEN))
        assert "not supported" in str(refused.value).lower(), refused.value
        assert client.stat("dated").st_mtime != WHEN
        assert client.listdir("dated") == ["inside.txt"]
        # Learned once: no marker is read for a time again, and a second attempt asks nothing.
        mark = server.log_size()
        client.listdir_attr(".")
        with pytest.raises(IOError):
            client.utime("dated", (WHEN, WHEN))
        markers_read = [line for line in server.log_text(mark).splitlines()
                        if "operation=HeadObject" in line and "/dated/" in line]
        assert markers_read == [], markers_read
    assert s3_bucket.get(f"{prefix}/dated/inside.txt") == b"inside"
    assert "keeps no metadata on directory markers" in server.log_text()


def test_listings_show_stored_times_on_s3(s3_site, s3_bucket):
    server, prefix = s3_site
    stamps = {f"l{index}.txt": WHEN + index * 86_400 for index in range(20)}
    with server.ftp("timer") as f:
        f.mkd("listed")
        f.cwd("listed")
        for name, when in stamps.items():
            f.storbinary(f"STOR {name}", io.BytesIO(name.encode()))
            stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(when))
            assert f.sendcmd(f"MFMT {stamp} {name}").startswith("213")
        f.storbinary("STOR plain.txt", io.BytesIO(b"no time set"))
        # rclone's form with a fraction, written by another tool: shown to the second.
        s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=f"{prefix}/listed/rclone.txt", Body=b"r",
                                    Metadata={"mtime": f"{WHEN}.123456789"})
        # Names only (NLST): no time is read.
        mark = server.log_size()
        assert len(f.nlst()) == len(stamps) + 2
        assert "operation=HeadObject" not in server.log_text(mark)
        # Only objects written at least 2 s before are remembered (S3 gives LastModified to the
        # second, and a time rewrite may keep the ETag and size).
        time.sleep(3)
        mark = server.log_size()
        listed = {name: facts["modify"] for name, facts in f.mlsd() if facts.get("type") == "file"}
        first_heads = server.log_text(mark).count("operation=HeadObject")
        for name, when in stamps.items():
            assert listed[name] == time.strftime("%Y%m%d%H%M%S", time.gmtime(when)), (name, listed[name])
        assert listed["rclone.txt"].startswith(time.strftime("%Y%m%d%H%M%S", time.gmtime(WHEN)))
        plain_written = s3_bucket.head(f"{prefix}/listed/plain.txt")["LastModified"].strftime("%Y%m%d%H%M%S")
        assert listed["plain.txt"].startswith(plain_written)
        assert first_heads == len(stamps) + 2, first_heads  # one HeadObject per file, once
        # Listed again: from memory, no HeadObject; LIST shows the same times (year form, > 6 months old).
        mark = server.log_size()
        lines = []
        f.retrlines("LIST", lines.append)
        assert server.log_text(mark).count("operation=HeadObject") == 0
        by_name = {line.split()[-1]: line for line in lines}
        assert " Nov 27  2012 l0.txt" in by_name["l0.txt"], by_name["l0.txt"]
        # Replaced by another tool: the listing sees the new object (new ETag and LastModified) and
        # reads it again.
        s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=f"{prefix}/listed/l1.txt", Body=b"new bytes")
        # A listing within the same second as a write reads the time but does not remember it.
        mark = server.log_size()
        list(f.mlsd())
        assert server.log_text(mark).count("operation=HeadObject") == 1
        f.storbinary("STOR l2.txt", io.BytesIO(b"l2.txt"))  # same size, same bytes: same ETag as before
        assert f.sendcmd("MFMT 20300101000000 l2.txt").startswith("213")
        assert {name: facts["modify"] for name, facts in f.mlsd()}["l2.txt"].startswith("20300101000000")
        time.sleep(3)
        mark = server.log_size()
        listed = {name: facts["modify"] for name, facts in f.mlsd() if facts.get("type") == "file"}
        assert server.log_text(mark).count("operation=HeadObject") == 2  # l1 and l2, now settled
        assert not listed["l1.txt"].startswith(time.strftime("%Y%m%d", time.gmtime(stamps["l1.txt"])))
        assert listed["l2.txt"].startswith("20300101000000")
        stamps["l2.txt"] = 1893456000
    with paramiko_sftp(server.sftp_port, "viewer", password=PASSWORD) as client:
        attrs = {entry.filename: entry.st_mtime for entry in client.listdir_attr("listed")}
        assert attrs["l0.txt"] == WHEN and attrs["l19.txt"] == stamps["l19.txt"] and attrs["rclone.txt"] == WHEN


def test_listing_times_last_modified_reads_nothing(ferry_factory, s3_target, s3_bucket):
    prefix = unique_prefix("times-lm")
    server = ferry_factory(sftp=False, extra_toml=s3_storage_toml("s3", s3_target, listing_times="last_modified"),
                           users_toml=user_toml("lm", PASSWORD, f"s3:{s3_target.bucket}/{prefix}"),
                           passwords={"lm": PASSWORD})
    try:
        with server.ftp("lm") as f:
            f.storbinary("STOR a.txt", io.BytesIO(b"a"))
            assert f.sendcmd("MFMT 20121127181505 a.txt").startswith("213")
            assert f.sendcmd("MDTM a.txt") == "213 20121127181505"  # the file's own time is still the stored one
            mark = server.log_size()
            listed = {name: facts["modify"] for name, facts in f.mlsd() if facts.get("type") == "file"}
            assert "operation=HeadObject" not in server.log_text(mark)
            assert not listed["a.txt"].startswith("2012")
    finally:
        s3_bucket.delete_prefix(prefix + "/")


def test_legacy_scp_p_stores_the_time_with_the_upload(s3_site, s3_bucket, tmp_path):
    """`scp -O -p` sends the time (a `T` line) before the file: it goes with the object's PUT."""
    from sshsupport import scp
    server, prefix = s3_site
    local = write_file(tmp_path / "scp-kept.txt", b"scp keeps my time\n", mtime=WHEN + 7200)
    mark = server.log_size()
    r = scp(server.sftp_port, str(local), f"timer@127.0.0.1:scp-kept.txt", key=None, password=PASSWORD, extra=["-O", "-p"])
    assert r.returncode == 0, r.stdout
    assert s3_bucket.head(f"{prefix}/scp-kept.txt")["Metadata"]["mtime"] == str(WHEN + 7200)
    log = server.log_text(mark)
    assert "with=upload" in log and "operation=CopyObject" not in log, log[-3000:]


def test_time_rewrite_keeps_a_foreign_objects_headers(s3_site, s3_bucket):
    """A CopyObject with REPLACE drops what is not sent again: the Content-Type and other headers
    another tool set, and its own metadata, survive Ferry setting the time."""
    server, prefix = s3_site
    s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=f"{prefix}/foreign.html", Body=b"<p>hi</p>",
                                ContentType="text/html; charset=utf-8", CacheControl="max-age=60",
                                ContentDisposition='attachment; filename="page.html"', ContentLanguage="fr",
                                Metadata={"owner": "web-team"})
    with server.ftp("timer") as f:
        assert f.sendcmd("MFMT 20121127181505 foreign.html").startswith("213")
    head = s3_bucket.head(f"{prefix}/foreign.html")
    assert head["Metadata"] == {"owner": "web-team", "mtime": str(WHEN)}, head["Metadata"]
    assert head["ContentType"] == "text/html; charset=utf-8"
    assert head["CacheControl"] == "max-age=60"
    assert head["ContentDisposition"] == 'attachment; filename="page.html"'
    assert head["ContentLanguage"] == "fr"
    assert s3_bucket.get(f"{prefix}/foreign.html") == b"<p>hi</p>"


def test_mfmt_right_after_stor_needs_no_head_and_never_trusts_a_stale_answer(s3_site, s3_bucket):
    """The time of the file a session just wrote is set with the ETag its PUT answered (no HEAD). If
    another tool replaced the object in between, the pinned copy is refused and Ferry reads the
    object again: the new object gets the time and keeps its own metadata, never the old digests."""
    server, prefix = s3_site
    with server.ftp("timer") as f:
        f.storbinary("STOR fresh.bin", io.BytesIO(b"written by ferry"))
        mark = server.log_size()
        assert f.sendcmd("MFMT 20121127181505 fresh.bin").startswith("213")
        log = server.log_text(mark)
        assert "with=published" in log and "operation=HeadObject" not in log, log[-3000:]
        assert s3_bucket.head(f"{prefix}/fresh.bin")["Metadata"]["mtime"] == str(WHEN)

        f.storbinary("STOR raced.bin", io.BytesIO(b"written by ferry"))
        s3_bucket.client.put_object(Bucket=s3_bucket.name, Key=f"{prefix}/raced.bin", Body=b"replaced by another tool",
                                    Metadata={"origin": "elsewhere"})
        mark = server.log_size()
        assert f.sendcmd("MFMT 20121127181505 raced.bin").startswith("213")
        assert "operation=HeadObject" in server.log_text(mark)
    head = s3_bucket.head(f"{prefix}/raced.bin")
    assert head["Metadata"] == {"origin": "elsewhere", "mtime": str(WHEN)}, head["Metadata"]
    assert s3_bucket.get(f"{prefix}/raced.bin") == b"replaced by another tool"


def test_sftp_setstat_time_answers_as_before_for_read_only_users(s3_site):
    """A time alone goes straight to the time setting; without write access the answers stay what a
    stat tells: a missing path "no such file", a file or directory refused (a directory's time is
    no longer accepted without effect)."""
    server, _ = s3_site
    with server.ftp("timer") as f:
        f.mkd("ro-dir")
        f.storbinary("STOR ro-file.txt", io.BytesIO(b"x"))
    with paramiko_sftp(server.sftp_port, "viewer", password=PASSWORD) as client:
        with pytest.raises(PermissionError):
            client.utime("ro-dir", (WHEN, WHEN))
        with pytest.raises(FileNotFoundError):
            client.utime("nothing-here.txt", (WHEN, WHEN))
        with pytest.raises(PermissionError):
            client.utime("ro-file.txt", (WHEN, WHEN))


def test_directory_times_kept_on_a_store_that_keeps_marker_metadata(ferry_factory, marker_keeping_s3):
    """On a store that keeps markers' metadata (moto here, as AWS), a directory's time is stored on
    its marker `dir/` in rclone's form: set by FTP MFMT on a directory Ferry made and by SFTP utime
    on one implied by its keys only (which then gets a marker), shown by MLST, SFTP stat and the
    parent's listing, the files below untouched. A `dir/` object holding bytes is refused, kept."""
    import boto3

    target = marker_keeping_s3
    client = boto3.client("s3", endpoint_url=target.endpoint, aws_access_key_id=target.access_key,
                          aws_secret_access_key=target.secret_key, region_name=target.region)
    prefix = unique_prefix("dir-times")
    server = ferry_factory(extra_toml=s3_storage_toml("moto", target),
                           users_toml=user_toml("timer", PASSWORD, f"moto:{target.bucket}/{prefix}"),
                           passwords={"timer": PASSWORD})
    client.put_object(Bucket=target.bucket, Key=f"{prefix}/implied/file.txt", Body=b"inside")
    client.put_object(Bucket=target.bucket, Key=f"{prefix}/holds-bytes/", Body=b"not a marker")
    later = WHEN + 86_400
    with server.ftp("timer") as f:
        f.mkd("made")
        assert f.sendcmd("MFMT 20121127181505 made") == "213 Modify=20121127181505; made"
        assert "modify=20121127181505;" in f.sendcmd("MLST made")
        with pytest.raises(Exception) as refused:
            f.sendcmd("MFMT 20121127181505 holds-bytes")
        assert str(refused.value).startswith("550"), refused.value
    assert client.head_object(Bucket=target.bucket, Key=f"{prefix}/made/")["Metadata"]["mtime"] == str(WHEN)
    with paramiko_sftp(server.sftp_port, "timer", password=PASSWORD) as sftp:
        sftp.utime("implied", (later, later))
        assert sftp.stat("implied").st_mtime == later
        listed = {entry.filename: entry.st_mtime for entry in sftp.listdir_attr(".")}
        assert listed["made"] == WHEN and listed["implied"] == later, listed
        assert sftp.listdir("implied") == ["file.txt"]
    assert client.head_object(Bucket=target.bucket, Key=f"{prefix}/implied/")["Metadata"]["mtime"] == str(later)
    assert client.get_object(Bucket=target.bucket, Key=f"{prefix}/implied/file.txt")["Body"].read() == b"inside"
    assert client.get_object(Bucket=target.bucket, Key=f"{prefix}/holds-bytes/")["Body"].read() == b"not a marker"
