"""Checksums without downloading (issue 13 parts 1-2, the parts built so far): FTP HASH with every
algorithm (OPTS HASH, FEAT) and XMD5/XSHA1/XSHA256/XCRC against known files; on S3 an MD5 of a
single-part object comes from its ETag without a GET, a multipart object written by boto3 is hashed
by reading; a file above max_hash_size is refused clearly; a checksum needs read access."""
from __future__ import annotations

import base64
import ftplib
import hashlib
import io
import time
import zlib

import pytest

from conftest import random_bytes, s3_storage_toml, unique_prefix, user_toml, write_file

ALGORITHMS = {
    "SHA-256": lambda data: hashlib.sha256(data).hexdigest(),
    "SHA-1": lambda data: hashlib.sha1(data).hexdigest(),
    "MD5": lambda data: hashlib.md5(data).hexdigest(),
    "CRC32": lambda data: f"{zlib.crc32(data) & 0xFFFFFFFF:08x}",
}
X_COMMANDS = {"XMD5": "MD5", "XSHA1": "SHA-1", "XSHA256": "SHA-256", "XCRC": "CRC32"}


def test_hash_and_x_commands_on_local_storage(ferry, area):
    data = random_bytes(300_000, seed=13)
    write_file(area.p("known.bin"), data)
    write_file(area.p("empty.bin"), b"")
    f = ferry.ftp("rw")
    f.cwd(area.vpath)
    features = f.sendcmd("FEAT")
    assert "HASH SHA-256*;SHA-1;MD5;CRC32" in features, features
    for name, compute in ALGORITHMS.items():
        assert f.sendcmd(f"OPTS HASH {name}") == f"200 {name}"
        assert f.sendcmd("HASH known.bin") == f"213 {name} 0-{len(data) - 1} {compute(data)} known.bin"
        assert f.sendcmd("HASH empty.bin").split()[3] == compute(b"")
    for verb, name in X_COMMANDS.items():
        assert f.sendcmd(f"{verb} known.bin") == f"250 {ALGORITHMS[name](data)}"
    for bad in ("HASH missing.bin", "XMD5 missing.bin", f"HASH {area.vpath}"):
        with pytest.raises(ftplib.error_perm) as refused:
            f.sendcmd(bad)
        assert str(refused.value).startswith("550"), bad
    with pytest.raises(ftplib.error_perm) as refused:
        f.sendcmd("OPTS HASH WHIRLPOOL")
    assert str(refused.value).startswith("501")
    f.quit()
    # A checksum reads the file: a write-only user may not have one.
    f = ferry.ftp("wo")
    f.storbinary("STOR mine.bin", io.BytesIO(b"write only"))
    with pytest.raises(ftplib.error_perm) as refused:
        f.sendcmd("XMD5 mine.bin")
    assert str(refused.value).startswith("550")
    f.quit()


def test_s3_md5_from_etag_and_multipart_hashed_by_reading(ferry_factory, s3_target, s3_bucket, capsys):
    prefix = unique_prefix("hash")
    server = ferry_factory(sftp=False, limits_toml='max_hash_size = "14MiB"',
                           extra_toml=s3_storage_toml("s3", s3_target),
                           users_toml=user_toml("hs", "hs-pass-1357", f"s3:{s3_target.bucket}/{prefix}"),
                           passwords={"hs": "hs-pass-1357"})
    try:
        small = random_bytes(100_000, seed=1)
        f = server.ftp("hs")
        f.storbinary("STOR small.bin", io.BytesIO(small))
        # Ferry stored both digests while the bytes passed: MD5 as rclone does (base64), SHA-256 in hex.
        stored = s3_bucket.head(f"{prefix}/small.bin")["Metadata"]
        assert stored == {"md5chksum": base64.b64encode(hashlib.md5(small).digest()).decode(),
                          "sha256": hashlib.sha256(small).hexdigest()}, stored
        mark = server.log_size()
        assert f.sendcmd("XMD5 small.bin") == f"250 {hashlib.md5(small).hexdigest()}"
        assert f.sendcmd("XSHA256 small.bin") == f"250 {hashlib.sha256(small).hexdigest()}"
        log = server.log_text(mark)
        assert "operation=HeadObject" in log and "operation=GetObject" not in log, log
        # SHA-1 is not stored: read.
        assert f.sendcmd("XSHA1 small.bin") == f"250 {hashlib.sha1(small).hexdigest()}"
        assert "operation=GetObject" in server.log_text(mark)

        # A multipart upload through Ferry (5 MiB parts): the digests are written afterwards by a
        # server-side copy; bytes unchanged, and an ETag without "-n" is the MD5 of the bytes.
        parted = random_bytes(12 * 1024 * 1024 + 5, seed=4)
        f.storbinary("STOR parted.bin", io.BytesIO(parted))
        head = s3_bucket.head(f"{prefix}/parted.bin")
        assert head["Metadata"]["sha256"] == hashlib.sha256(parted).hexdigest(), head
        assert head["Metadata"]["md5chksum"] == base64.b64encode(hashlib.md5(parted).digest()).decode()
        etag = head["ETag"].strip('"')
        assert "-" in etag or etag == hashlib.md5(parted).hexdigest(), etag
        assert s3_bucket.get(f"{prefix}/parted.bin") == parted
        mark = server.log_size()
        started = time.monotonic()
        assert f.sendcmd("HASH parted.bin").split()[3] == hashlib.sha256(parted).hexdigest()
        stored_seconds = time.monotonic() - started
        assert "operation=GetObject" not in server.log_text(mark)
        # A rename keeps them (CopyObject copies the metadata).
        f.rename("parted.bin", "renamed.bin")
        assert s3_bucket.head(f"{prefix}/renamed.bin")["Metadata"]["sha256"] == hashlib.sha256(parted).hexdigest()

        # Written by another tool in two parts: its ETag is not an MD5, so it is read.
        big = random_bytes(6 * 1024 * 1024, seed=2)
        upload = s3_bucket.client.create_multipart_upload(Bucket=s3_target.bucket, Key=f"{prefix}/multi.bin")
        parts = []
        for number, chunk in enumerate((big[:5 * 1024 * 1024], big[5 * 1024 * 1024:]), start=1):
            answer = s3_bucket.client.upload_part(Bucket=s3_target.bucket, Key=f"{prefix}/multi.bin", PartNumber=number,
                                                  UploadId=upload["UploadId"], Body=chunk)
            parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        s3_bucket.client.complete_multipart_upload(Bucket=s3_target.bucket, Key=f"{prefix}/multi.bin",
                                                   UploadId=upload["UploadId"], MultipartUpload={"Parts": parts})
        assert "-" in s3_bucket.head(f"{prefix}/multi.bin")["ETag"]
        started = time.monotonic()
        assert f.sendcmd("XMD5 multi.bin") == f"250 {hashlib.md5(big).hexdigest()}"
        read_seconds = time.monotonic() - started
        with capsys.disabled():
            print(f"\nchecksum: {len(parted) >> 20} MiB uploaded by Ferry (stored) {stored_seconds * 1000:.1f} ms; "
                  f"{len(big) >> 20} MiB written by boto3 (read through Ferry) {read_seconds * 1000:.1f} ms")
        assert f.sendcmd("XCRC multi.bin") == f"250 {zlib.crc32(big) & 0xFFFFFFFF:08x}"

        # Above max_hash_size: a clear refusal, nothing read.
        f.storbinary("STOR large.bin", io.BytesIO(random_bytes(15 * 1024 * 1024, seed=3)))
        with pytest.raises(ftplib.error_perm) as refused:
            f.sendcmd("XSHA1 large.bin")
        assert str(refused.value).startswith("550 File too large to hash"), refused.value
        f.quit()
    finally:
        s3_bucket.delete_prefix(prefix + "/")


def test_sftp_check_file_with_paramiko(ferry, area):
    """check-file (paramiko's SFTPFile.check sends it with a handle) and check-file-name, sent by hand."""
    import struct

    from sshsupport import paramiko_sftp

    data = random_bytes(200_000, seed=21)
    write_file(area.p("c.bin"), data)
    with paramiko_sftp(ferry.sftp_port, "rw") as client:
        with client.open(f"{area.vpath}/c.bin", "rb") as handle:
            assert handle.check("sha256") == hashlib.sha256(data).digest()
            assert handle.check("md5,sha1") == hashlib.md5(data).digest()  # the first one Ferry has
            assert handle.check("sha512,crc32") == struct.pack(">I", zlib.crc32(data) & 0xFFFFFFFF)
            with pytest.raises(IOError):
                handle.check("sha512")
            with pytest.raises(IOError):
                handle.check("sha1", 10, 100)  # a range: refused, object storage has nothing cheaper
        # check-file-name, by path.
        import paramiko
        from paramiko.sftp_client import int64
        kind, reply = client._request(paramiko.sftp.CMD_EXTENDED, "check-file-name", f"{area.vpath}/c.bin", "sha1",
                                      int64(0), int64(0), 0)
        assert kind == paramiko.sftp.CMD_EXTENDED_REPLY
        assert reply.get_text() == "check-file" and reply.get_text() == "sha1"
        assert reply.get_remainder() == hashlib.sha1(data).digest()
