"""SSH keys and SFTP clients for the integration tests (OpenSSH `sftp`/`scp`, paramiko, rclone).

- `keys()`          the run's SSH keys, made once with ssh-keygen: host keys (`host_ed25519`,
                    `host_rsa`) for every test server, client keys (`ed25519`, `rsa`, `ecdsa`) that the
                    standard users accept, and `stranger` (an ed25519 key no user has).
- `sftp_batch(...)` runs `sftp -b` with a key or a password (through SSH_ASKPASS) and returns the
                    CompletedProcess (stdout and stderr merged into stdout).
- `scp(...)`        runs OpenSSH scp (SFTP protocol, the default since OpenSSH 9).
- `paramiko_sftp(...)` a connected paramiko SFTPClient (close it, or use it in `with`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
TIMEOUT = 120

SSH_OPTIONS = [
    "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null", "-o", "LogLevel=ERROR",
    "-o", "BatchMode=no", "-o", "ConnectTimeout=20", "-o", "ServerAliveInterval=0",
]


@dataclass(frozen=True)
class KeyPair:
    private: Path
    public_line: str


@functools.cache
def keys() -> dict[str, KeyPair]:
    base = Path(tempfile.mkdtemp(prefix="ferry-it-ssh-"))
    made = {}
    for name, args in {
        "host_ed25519": ["-t", "ed25519"],
        "host_rsa": ["-t", "rsa", "-b", "3072"],
        "host_ecdsa": ["-t", "ecdsa", "-b", "256"],  # refused as a host key (NIST curve)
        "ed25519": ["-t", "ed25519"],
        "rsa": ["-t", "rsa", "-b", "2048"],
        "ecdsa": ["-t", "ecdsa", "-b", "384"],
        "stranger": ["-t", "ed25519"],
    }.items():
        path = base / name
        subprocess.run(["ssh-keygen", "-q", *args, "-N", "", "-C", f"{name}@ferry-it", "-f", str(path)],
                       check=True, timeout=TIMEOUT)
        made[name] = KeyPair(path, (base / f"{name}.pub").read_text().strip())
    return made


def user_key_lines() -> list[str]:
    return [keys()[name].public_line for name in ("ed25519", "rsa", "ecdsa")]


def host_key_paths() -> list[Path]:
    return [keys()["host_ed25519"].private, keys()["host_rsa"].private]


def _askpass_env(password: str) -> dict[str, str]:
    """OpenSSH reads the password from SSH_ASKPASS (no terminal needed)."""
    directory = Path(tempfile.mkdtemp(prefix="ferry-it-askpass-"))
    secret = directory / "secret"
    secret.write_text(password)
    script = directory / "askpass"
    script.write_text(f"#!/bin/sh\ncat {secret}\n")
    script.chmod(0o700)
    env = dict(os.environ)
    env.update({"SSH_ASKPASS": str(script), "SSH_ASKPASS_REQUIRE": "force", "DISPLAY": ":0"})
    return env


def _auth_args(key: str | Path | None, password: str | None) -> tuple[list[str], dict[str, str] | None]:
    if password is not None:
        return (["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password",
                 "-o", "NumberOfPasswordPrompts=1"], _askpass_env(password))
    path = keys()[key].private if isinstance(key, str) else Path(key)
    return (["-i", str(path), "-o", "IdentitiesOnly=yes", "-o", "PreferredAuthentications=publickey",
             "-o", "PasswordAuthentication=no"], None)


def sftp_batch(port: int, user: str, commands: str, *, key: str | Path | None = "ed25519",
               password: str | None = None, cwd: Path | None = None, timeout: float = TIMEOUT,
               extra: list[str] = ()) -> subprocess.CompletedProcess:
    """`sftp -b -` with `commands` (a line starting with '-' may fail without stopping the batch)."""
    args, env = _auth_args(key, password)
    # The options come before -b: sftp -b adds BatchMode=yes (no password prompt), and the first
    # value of an ssh option wins.
    return subprocess.run(["sftp", *SSH_OPTIONS, *args, *extra, "-P", str(port), "-b", "-", f"{user}@{HOST}"],
                          input=commands, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          cwd=cwd, env=env, timeout=timeout, start_new_session=True)


def scp(port: int, source: str, target: str, *, key: str | Path | None = "ed25519", password: str | None = None,
        timeout: float = TIMEOUT, extra: list[str] = ()) -> subprocess.CompletedProcess:
    args, env = _auth_args(key, password)
    return subprocess.run(["scp", "-P", str(port), *SSH_OPTIONS, *args, *extra, source, target],
                          text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, timeout=timeout,
                          start_new_session=True)


def paramiko_sftp(port: int, user: str, *, password: str | None = None, key: str | None = None, sock=None):
    """An SFTP client over paramiko; `sock` is an already connected socket to use (e.g. one that
    has sent a PROXY header), else it connects to `port`."""
    import paramiko

    transport = paramiko.Transport(sock if sock is not None else (HOST, port))
    transport.banner_timeout = 30
    if password is not None:
        transport.connect(username=user, password=password)
    else:
        path = str(keys()[key or "ed25519"].private)
        private = (paramiko.ECDSAKey if key == "ecdsa" else paramiko.Ed25519Key).from_private_key_file(path)
        transport.connect(username=user, pkey=private)
    client = paramiko.SFTPClient.from_transport(transport)
    client.get_channel().settimeout(TIMEOUT)
    return client


def rclone_binary() -> str:
    candidates = [os.environ.get("TESTBED_VENV", "/tmp/testbed/venv") + "/bin/rclone", shutil.which("rclone")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise RuntimeError("rclone not found (../shared/testbed/peers-install installs it)")


def rclone_sftp_remote(port: int, user: str, key: str = "ed25519") -> str:
    """An on-the-fly rclone remote for Ferry's SFTP (connection-string syntax, no config file)."""
    private = keys()[key].private
    return f":sftp,host={HOST},port={port},user={user},key_file='{private}',shell_type=none,md5sum_command=none,sha1sum_command=none:"
