"""Create-only uploads: FTP STOU and SFTP OPEN with CREAT|EXCL. The name is free when the upload
begins; another client then stores a file under it before the upload ends. The upload must fail and
the other client's file stay, although the user may delete (a plain STOR would replace it): on S3 the
PUT carries If-None-Match and the store refuses it; on local storage the file is linked into place,
which refuses a taken name."""
from __future__ import annotations

import ftplib
import io
import uuid

import pytest

import sshsupport
from conftest import s3_storage_toml, unique_prefix, user_toml

USER, PASSWORD = "creator", "creator-pass-1357"
REFUSED = "upload refused: a file appeared under its name meanwhile, and the upload creates only"


def test_create_only_uploads_never_replace_a_file_that_appeared(ferry_factory, s3_target, s3_bucket):
    """On S3, the other client is boto3. Nothing is left pending."""
    prefix = unique_prefix("create-only")
    server = ferry_factory(extra_toml=s3_storage_toml("s3", s3_target, conditional_writes=True),
                           users_toml=user_toml(USER, PASSWORD, f"s3:{s3_target.bucket}/{prefix}", delete=True),
                           passwords={USER: PASSWORD})
    ftp = server.ftp(user=USER)
    data = ftp.transfercmd("STOU u.txt")
    data.sendall(b"mine")
    s3_bucket.put(f"{prefix}/u.txt", b"theirs")
    data.close()
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.voidresp()
    assert s3_bucket.get(f"{prefix}/u.txt") == b"theirs"
    # The same STOU now finds the name taken and picks the next one.
    ftp.storbinary("STOU u.txt", io.BytesIO(b"mine"))
    assert s3_bucket.get(f"{prefix}/u.txt.1") == b"mine"
    ftp.quit()

    sftp = sshsupport.paramiko_sftp(server.sftp_port, USER, password=PASSWORD)
    handle = sftp.open("x.txt", "wx")  # CREAT|EXCL|TRUNC|WRITE
    handle.write(b"mine")
    handle.flush()
    s3_bucket.put(f"{prefix}/x.txt", b"theirs")
    handle.close()  # paramiko swallows CLOSE's failure status; the log shows it (below)
    assert s3_bucket.get(f"{prefix}/x.txt") == b"theirs"
    with pytest.raises(IOError):
        sftp.open("x.txt", "wx")
    sftp.close()
    log = server.log_text()
    assert log.count(REFUSED) == 2, log
    assert "request=close" in log and "status=failure" in log
    assert not [key for key, _ in s3_bucket.pending_uploads(prefix + "/")]
    s3_bucket.delete_prefix(prefix + "/")


def test_create_only_uploads_never_replace_on_local_storage(ferry):
    """On local storage (user rw, who may delete), the other client writes the file on disk."""
    name = f"create-only-{uuid.uuid4().hex[:8]}"
    home = ferry.root / "files" / "rw"
    mark = ferry.log_size()
    ftp = ferry.ftp()
    data = ftp.transfercmd(f"STOU {name}.txt")
    data.sendall(b"mine")
    (home / f"{name}.txt").write_bytes(b"theirs")
    data.close()
    with pytest.raises(ftplib.error_perm, match="^550"):
        ftp.voidresp()
    assert (home / f"{name}.txt").read_bytes() == b"theirs"
    ftp.quit()
    sftp = sshsupport.paramiko_sftp(ferry.sftp_port, "rw")
    handle = sftp.open(f"{name}-x.txt", "wx")
    handle.write(b"mine")
    handle.flush()
    (home / f"{name}-x.txt").write_bytes(b"theirs")
    handle.close()  # paramiko swallows CLOSE's failure status
    sftp.close()
    assert (home / f"{name}-x.txt").read_bytes() == b"theirs"
    # The temporary files are gone: nothing of the refused uploads is left.
    assert not [p for p in (ferry.root / ".ferry-uploads").iterdir() if p.read_bytes() == b"mine"]
    assert ferry.log_text(mark).count(REFUSED) == 2
