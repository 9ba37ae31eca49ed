"""Several session channels on one SSH connection (issue 13 part 5) and the checksum commands over
exec (part 2): two SFTP sessions on one paramiko transport used at once with an exec channel beside
them; `md5sum`/`sha1sum`/`sha256sum` in rclone's form; other commands and shells answered on their
own channel; `[sftp] max_sessions_per_connection` and the user's `max_sessions` counting channels;
rclone's sftp backend detecting the hash commands by itself, `rclone md5sum`/`sha1sum`/`check`
matching, with no object GET for objects Ferry uploaded."""
from __future__ import annotations

import hashlib
import os
import subprocess
import threading
import time

import paramiko
import pytest

import sshsupport
from conftest import random_bytes, s3_storage_toml, unique_prefix, user_toml, write_file
from sshsupport import HOST, TIMEOUT, keys

KiB = 1024


def connect(port: int, user: str = "rw", password: str | None = None) -> paramiko.Transport:
    transport = paramiko.Transport((HOST, port))
    transport.banner_timeout = 30
    if password is not None:
        transport.connect(username=user, password=password)
    else:
        transport.connect(username=user, pkey=paramiko.Ed25519Key.from_private_key_file(str(keys()["ed25519"].private)))
    return transport


def sftp_on(transport: paramiko.Transport) -> paramiko.SFTPClient:
    client = paramiko.SFTPClient.from_transport(transport)
    client.get_channel().settimeout(TIMEOUT)
    return client


def execute(transport: paramiko.Transport, command: str, stdin: bytes = b"") -> tuple[int, bytes, bytes]:
    """Runs `command` on a new session channel: (exit status, stdout, stderr)."""
    channel = transport.open_session()
    channel.settimeout(TIMEOUT)
    channel.exec_command(command)
    if stdin:
        channel.sendall(stdin)
    channel.shutdown_write()
    out, err = bytearray(), bytearray()
    while True:
        chunk = channel.recv(65536)
        if not chunk:
            break
        out += chunk
    while True:
        chunk = channel.recv_stderr(65536)
        if not chunk:
            break
        err += chunk
    status = channel.recv_exit_status()
    channel.close()
    return status, bytes(out), bytes(err)


def shell_escape(path: str) -> str:
    """rclone's escaping for a unix shell (backend/sftp: every byte outside a safe set gets a
    backslash, a newline is quoted)."""
    safe = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,:/@-")
    escaped = "".join(c if c in safe or ord(c) >= 0x80 else "\\" + c for c in path)
    return escaped.replace("\n", "'\n'")


def test_two_sftp_sessions_and_an_exec_channel_at_once(ferry, area):
    first_data = random_bytes(3 * 1024 * KiB, seed=51)
    second_data = random_bytes(2 * 1024 * KiB, seed=52)
    write_file(area.p("down.bin"), second_data)
    transport = connect(ferry.sftp_port)
    try:
        first, second = sftp_on(transport), sftp_on(transport)
        errors: list[BaseException] = []

        def upload():
            try:
                with first.open(f"{area.vpath}/up.bin", "wb") as handle:
                    for offset in range(0, len(first_data), 64 * KiB):
                        handle.write(first_data[offset:offset + 64 * KiB])
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        def download():
            try:
                for _ in range(3):
                    with second.open(f"{area.vpath}/down.bin", "rb") as handle:
                        assert handle.read() == second_data
            except BaseException as error:  # noqa: BLE001
                errors.append(error)

        threads = [threading.Thread(target=upload), threading.Thread(target=download)]
        for thread in threads:
            thread.start()
        # Meanwhile, on a third channel: a checksum command.
        status, out, err = execute(transport, f"md5sum {area.vpath}/down.bin")
        for thread in threads:
            thread.join(TIMEOUT)
        assert not errors, errors
        assert (status, err) == (0, b""), err
        assert out == f"{hashlib.md5(second_data).hexdigest()}  {area.vpath}/down.bin\n".encode()
        assert area.p("up.bin").read_bytes() == first_data
        # The sessions are separate: one's working directory is not the other's.
        first.chdir(area.vpath)
        assert second.getcwd() in (None, "/")
        assert first.stat("up.bin").st_size == len(first_data)
        first.close()
        # The other still works after one closed; and sessions opened one after another keep working.
        assert second.stat(f"{area.vpath}/up.bin").st_size == len(first_data)
        for index in range(12):
            client = sftp_on(transport)
            assert client.stat(f"{area.vpath}/down.bin").st_size == len(second_data), index
            client.close()
        second.close()
    finally:
        transport.close()


def test_checksum_commands_in_rclones_form(ferry, area):
    data = random_bytes(100_000, seed=53)
    name = "we ird$name 'q'.bin"
    write_file(area.p(name), data)
    write_file(area.p("plain.bin"), b"plain")
    transport = connect(ferry.sftp_port)
    try:
        # rclone's probes: no file, empty input; the answer starts with the empty input's digest.
        for program, compute in (("md5sum", hashlib.md5), ("sha1sum", hashlib.sha1), ("sha256sum", hashlib.sha256)):
            assert execute(transport, program) == (0, f"{compute(b'').hexdigest()}  -\n".encode(), b"")
            assert execute(transport, program, stdin=b"some input")[1].split()[0].decode() == compute(b"some input").hexdigest()
            path = f"{area.vpath}/{name}"
            status, out, err = execute(transport, f"{program} {shell_escape(path)}")
            assert (status, err) == (0, b""), err
            assert out == f"{compute(data).hexdigest()}  {path}\n".encode()
        # A relative path is from the home; several files in one command.
        status, out, _ = execute(transport, f"sha256sum -- '{area.vpath.lstrip('/')}/plain.bin' \"{area.vpath}/plain.bin\"")
        assert status == 0
        assert out.decode().splitlines() == [f"{hashlib.sha256(b'plain').hexdigest()}  {area.vpath.lstrip('/')}/plain.bin",
                                             f"{hashlib.sha256(b'plain').hexdigest()}  {area.vpath}/plain.bin"]
        # A missing file or a directory: a message on stderr, exit 1, the other files still answered.
        status, out, err = execute(transport, f"md5sum {area.vpath}/missing.bin {area.vpath}/plain.bin {area.vpath}")
        assert status == 1
        assert out == f"{hashlib.md5(b'plain').hexdigest()}  {area.vpath}/plain.bin\n".encode()
        assert err.decode().splitlines() == [f"md5sum: {area.vpath}/missing.bin: No such file or directory",
                                             f"md5sum: {area.vpath}: Is a directory"]
        # Other commands and shells: a message and a failing status on their own channel; the
        # connection goes on.
        status, out, err = execute(transport, "echo ${ShellId}%ComSpec%")
        assert (status, out) == (127, b"") and b"SFTP, scp" in err
        for command in ("md5sum -c sums.txt", "rm -rf /", "md5 -r", "rclone md5sum", "df -k /"):
            assert execute(transport, command)[0] == 127, command
        shell = transport.open_session()
        shell.settimeout(TIMEOUT)
        shell.invoke_shell()
        assert shell.recv_exit_status() == 1
        shell.close()
        assert execute(transport, "md5sum")[0] == 0
    finally:
        transport.close()
    log = ferry.log_text()
    assert "SSH request refused" in log and "detail=\"rm -rf /\"" in log, log[-3000:]
    # A checksum needs read access: a write-only user gets "Permission denied".
    transport = connect(ferry.sftp_port, "wo", password="wo-secret")
    try:
        with sftp_on(transport) as client:
            with client.open("/own.bin", "wb") as handle:
                handle.write(b"mine")
        status, _, err = execute(transport, "md5sum /own.bin")
        assert status == 1 and err == b"md5sum: /own.bin: Permission denied\n"
    finally:
        transport.close()


def open_when_given_back(transport: paramiko.Transport) -> paramiko.SFTPClient:
    """A new SFTP session once the server has seen a closed one go (the close is asynchronous)."""
    deadline = time.monotonic() + 10
    while True:
        try:
            return sftp_on(transport)
        except paramiko.ChannelException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_channel_limits(ferry_factory):
    server = ferry_factory(sftp_toml="max_sessions_per_connection = 2",
                           users_toml=user_toml("two", "two-secret-99", "local:files/rw") + "max_sessions = 3\n",
                           passwords={"two": "two-secret-99"})
    transport = connect(server.sftp_port)
    try:
        first, second = sftp_on(transport), sftp_on(transport)
        with pytest.raises(paramiko.ChannelException):
            transport.open_session()
        assert "max_sessions_per_connection reached" in server.log_text()
        second.close()
        third = open_when_given_back(transport)  # a closed channel gives its place back
        assert third.listdir("/") is not None
        first.close()
        third.close()
    finally:
        transport.close()
    # The user's max_sessions counts channels: 2 on one connection and 1 on another make 3.
    one, two = connect(server.sftp_port, "two", "two-secret-99"), connect(server.sftp_port, "two", "two-secret-99")
    try:
        a, b = sftp_on(one), sftp_on(one)
        c = sftp_on(two)
        with pytest.raises(paramiko.ChannelException):
            two.open_session()
        assert "the user's max_sessions reached" in server.log_text()
        b.close()
        d = open_when_given_back(two)  # b's session was given back
        for client in (a, c, d):
            client.close()
    finally:
        one.close()
        two.close()


def test_rclone_detects_hash_commands_and_checks_without_downloading(ferry_factory, s3_target, s3_bucket, tmp_path):
    prefix = unique_prefix("rclone-hash")
    server = ferry_factory(extra_toml=s3_storage_toml("s3", s3_target),
                           users_toml=user_toml("rh", "rh-pass-2468", f"s3:{s3_target.bucket}/{prefix}"),
                           passwords={"rh": "rh-pass-2468"})
    src = tmp_path / "src"
    files = {"a.bin": random_bytes(200 * KiB, seed=61), "dir/b c.txt": b"bee see\n",
             "dir/ünï $x.bin": random_bytes(7 * 1024 * KiB, seed=62), "empty.txt": b""}
    for relative, data in files.items():
        write_file(src / relative, data)
    rclone = sshsupport.rclone_binary()
    config = tmp_path / "rclone.conf"
    obscured = subprocess.run([rclone, "obscure", "rh-pass-2468"], capture_output=True, text=True, check=True).stdout.strip()
    # No shell_type and no hash commands configured: rclone finds them itself and saves them.
    config.write_text(f"[ferry]\ntype = sftp\nhost = {HOST}\nport = {server.sftp_port}\nuser = rh\npass = {obscured}\n")
    env = dict(os.environ, RCLONE_CONFIG=str(config))
    try:
        r = subprocess.run([rclone, "copy", str(src), "ferry:"], env=env, capture_output=True, text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        logs = {}
        for program, compute in (("md5sum", hashlib.md5), ("sha1sum", hashlib.sha1)):
            mark = server.log_size()
            r = subprocess.run([rclone, program, "ferry:"], env=env, capture_output=True, text=True, timeout=180)
            assert r.returncode == 0, r.stderr
            listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in r.stdout.splitlines()}
            assert listed == {name: compute(data).hexdigest() for name, data in files.items()}, r.stdout
            logs[program] = server.log_text(mark)
        saved = config.read_text()
        assert "md5sum_command = md5sum" in saved and "sha1sum_command = sha1sum" in saved, saved
        mark = server.log_size()
        r = subprocess.run([rclone, "check", str(src), "ferry:", "--checksum"], env=env, capture_output=True,
                           text=True, timeout=180)
        assert r.returncode == 0, r.stderr
        assert "0 differences found" in r.stderr, r.stderr
        logs["check"] = server.log_text(mark)
        # MD5 and SHA-256 were stored while the bytes passed: md5sum and check (MD5, rclone's first
        # choice) read no object. SHA-1 is not stored, so sha1sum reads each object.
        for name in ("md5sum", "check"):
            assert "checksum command" in logs[name]
            assert "operation=GetObject" not in logs[name], logs[name][-3000:]
        assert "operation=GetObject" in logs["sha1sum"]
        # A changed file is found by its checksum alone (same size).
        changed = bytearray(files["a.bin"])
        changed[1000] ^= 0xFF
        write_file(src / "a.bin", bytes(changed))
        os.utime(src / "a.bin", (0, 0))
        r = subprocess.run([rclone, "check", str(src), "ferry:", "--checksum"], env=env, capture_output=True,
                           text=True, timeout=180)
        assert r.returncode != 0 and "1 differences found" in r.stderr, r.stderr
    finally:
        s3_bucket.delete_prefix(prefix + "/")
