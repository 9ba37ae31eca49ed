"""The command line: version, hash-password, check-config (masking and every kind of error), serve."""

import json
import os
import re
import signal
import socket
import subprocess
import time
import warnings

import pytest

import sshsupport

from conftest import run

try:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt  # deprecated, gone in 3.13: only used to double-check hashes when present
except ImportError:  # pragma: no cover
    crypt = None

SECRETS = {
    "password": "alice-plain-secret-9",
    "literal_secret_key": "literal-secret-key-5678",
    "env_secret_key": "env-secret-value-42",
    "file_secret_key": "file-secret-value-77",
}

# sha512-crypt of "bob-password" (a fixed, valid crypt(3) string)
BOB_HASH = "$6$ferrytestsalt$7o/FIRuy1Z2bvM2/oM4QX76.zLblB/gy87nLhEiDVFPyS1ZqdQOMfCMRG5bfLCK1Z0V.xRFqP0UZFNyF7xILg/"

BASE_CONFIG = """
[ftp]
listen = "127.0.0.1:2121"
passive_ports = "60000-60100"
active_mode = true

[limits]
max_connections = 512
max_connections_per_ip = 20
idle_timeout = "5m"
max_login_failures = 5
ban_time = "15m"

[log]
level = "info"
transfer_log = ""

[metrics]
listen = ""

[[storage]]
name = "local"
driver = "local"
root = "@ROOT@"

[[storage]]
name = "s3lit"
driver = "s3"
endpoint = "http://127.0.0.1:8333"
region = "us-east-1"
access_key = "AKIALITERALACCESSKEY"
secret_key = "literal-secret-key-5678"
addressing = "path"
part_size = "16MiB"
upload_concurrency = 4
max_object_size = "200GiB"

[[storage]]
name = "s3env"
driver = "s3"
endpoint = "http://127.0.0.1:8333"
region = "us-east-1"
access_key = "env:FERRY_TEST_ACCESS_KEY"
secret_key = "env:FERRY_TEST_SECRET_KEY"

[[storage]]
name = "s3file"
driver = "s3"
endpoint = "http://127.0.0.1:8333"
region = "us-east-1"
access_key = "AKIAFILEACCESSKEY"
secret_key = "file:@SECRET_FILE@"

[[user]]
name = "alice"
password = "alice-plain-secret-9"
home = "local:files/alice"
authority = "RW"

[[user.folder]]
path = "/shared"
target = "s3lit:shared-bucket/"
authority = "RO"
delete = false

[[user]]
name = "bob"
password_hash = "@BOB_HASH@"
home = "s3env:bucket/bob"
authority = "RO"
"""


@pytest.fixture
def config(tmp_path):
    """`config(text=None, replace={old: new}, append="")` writes a config file and returns its path."""
    secret_file = tmp_path / "secret-key.txt"
    secret_file.write_text(SECRETS["file_secret_key"] + "\n")
    (tmp_path / "data").mkdir(exist_ok=True)
    counter = iter(range(1, 1000))

    def make(replace: dict | None = None, append: str = "", text: str | None = None):
        body = BASE_CONFIG if text is None else text
        body = (body.replace("@ROOT@", str(tmp_path / "data"))
                    .replace("@SECRET_FILE@", str(secret_file))
                    .replace("@BOB_HASH@", BOB_HASH))
        for old, new in (replace or {}).items():
            assert old in body, f"test bug: {old!r} not in the base config"
            body = body.replace(old, new, 1)
        path = tmp_path / f"config{next(counter)}.toml"
        path.write_text(body + append, encoding="utf-8")
        return path

    return make


def cli_env(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FERRY_TEST_")}
    env.update({"FERRY_TEST_ACCESS_KEY": "AKIAENVACCESSKEY", "FERRY_TEST_SECRET_KEY": SECRETS["env_secret_key"]})
    env.update(extra)
    return env


def check_config(ferry_bin, path, env=None):
    r = run([ferry_bin, "check-config", "--config", path], env=env or cli_env())
    return r, r.stdout + r.stderr


# ---------------------------------------------------------------------------------------------
# version, hash-password
# ---------------------------------------------------------------------------------------------

def test_version(ferry_bin):
    r = run([ferry_bin, "version"])
    assert r.returncode == 0, r.stderr
    first = r.stdout.splitlines()[0] if r.stdout else ""
    assert re.match(r"ferry \S+", first), r.stdout


def test_hash_password(ferry_bin):
    hashes = []
    for stdin in ("correct horse battery\n", "correct horse battery"):
        r = run([ferry_bin, "hash-password"], input=stdin)
        assert r.returncode == 0, r.stderr
        lines = [line for line in r.stdout.splitlines() if line.strip()]
        assert len(lines) == 1, f"expected one line, got {r.stdout!r}"
        h = lines[0].strip()
        assert h.startswith("$y$"), h
        assert "correct horse" not in r.stdout + r.stderr
        hashes.append(h)
        if crypt is not None:  # the hash verifies with the system's crypt(3) (libxcrypt)
            assert crypt.crypt("correct horse battery", h) == h
            assert crypt.crypt("correct horse batterY", h) != h
    assert hashes[0] != hashes[1], "each hash needs its own random salt"


def test_hashed_user_can_log_in(ferry, hashed_password):
    """The main server's user `hashed` is configured with the output of `ferry hash-password`."""
    assert hashed_password.hash, hashed_password.problem
    assert hashed_password.hash.startswith("$y$")
    f = ferry.ftp("hashed")
    try:
        assert f.pwd() == "/"
    finally:
        f.close()


# ---------------------------------------------------------------------------------------------
# check-config
# ---------------------------------------------------------------------------------------------

def test_check_config_ok_masks_secrets(ferry_bin, config):
    r, out = check_config(ferry_bin, config())
    assert r.returncode == 0, out
    for name, secret in SECRETS.items():
        assert secret not in out, f"check-config printed the {name}"
    # it prints the effective settings
    assert "127.0.0.1:2121" in out
    assert "60000-60100" in out
    assert "alice" in out and "bob" in out
    assert "s3lit" in out and "s3env" in out


def test_check_config_of_the_test_server(ferry_bin, ferry):
    r, out = check_config(ferry_bin, ferry.config_path)
    assert r.returncode == 0, out
    for user in ("rw", "ro", "nodel", "wo", "folders"):
        assert f"{user}-secret" not in out


def test_check_config_accepts_cos_authority_spellings(ferry_bin, config):
    path = config(replace={'authority = "RW"': 'authority = "W"', 'authority = "RO"\ndelete': 'authority = "R"\ndelete'})
    r, out = check_config(ferry_bin, path)
    assert r.returncode == 0, out


def folder(path: str, target="local:other/", authority="RO") -> str:
    return f'\n[[user.folder]]\npath = "{path}"\ntarget = "{target}"\nauthority = "{authority}"\n'


BAD_CONFIGS = {
    # id: (replacements, appended text, substrings the message must contain)
    "unknown-key": ({'listen = "127.0.0.1:2121"': 'listen = "127.0.0.1:2121"\nlistne = "x"'}, "", ["ftp.listne"]),
    "unknown-section": ({"[metrics]": '[ftpp]\nlisten = "x"\n\n[metrics]'}, "", ["ftpp"]),
    "unknown-user-key": ({'name = "alice"': 'name = "alice"\npasswd = "x"'}, "", ["user[1].passwd"]),
    "unknown-folder-key": ({'path = "/shared"': 'path = "/shared"\npth = "x"'}, "", ["user[1].folder[1].pth"]),
    "unknown-storage-key": ({'driver = "local"': 'driver = "local"\nbucket = "x"'}, "", ["storage[1].bucket"]),
    "wrong-type-int": ({"max_connections = 512": 'max_connections = "many"'}, "", ["limits.max_connections"]),
    "wrong-type-bool": ({"active_mode = true": 'active_mode = "yes"'}, "", ["ftp.active_mode"]),
    "wrong-type-string": ({'listen = "127.0.0.1:2121"': "listen = 2121"}, "", ["ftp.listen"]),
    "bad-size": ({'part_size = "16MiB"': 'part_size = "16XB"'}, "", ["storage[2].part_size"]),
    "size-too-small": ({'part_size = "16MiB"': 'part_size = "1MiB"'}, "", ["storage[2].part_size"]),
    "bad-max-object-size": ({'max_object_size = "200GiB"': 'max_object_size = "lots"'}, "",
                            ["storage[2].max_object_size"]),
    "bad-duration": ({'idle_timeout = "5m"': 'idle_timeout = "5 parsecs"'}, "", ["limits.idle_timeout"]),
    "bad-ban-time": ({'ban_time = "15m"': 'ban_time = "forever"'}, "", ["limits.ban_time"]),
    "bad-address-port": ({'listen = "127.0.0.1:2121"': 'listen = "127.0.0.1:99999"'}, "", ["ftp.listen"]),
    "bad-address-host": ({'listen = "127.0.0.1:2121"': 'listen = "300.1.1.1:2121"'}, "", ["ftp.listen"]),
    "bad-address-form": ({'listen = "127.0.0.1:2121"': 'listen = "no port here"'}, "", ["ftp.listen"]),
    "bad-metrics-address": ({'[metrics]\nlisten = ""': '[metrics]\nlisten = "localhost:-1"'}, "",
                            ["metrics.listen"]),
    "bad-port-range-reversed": ({'passive_ports = "60000-60100"': 'passive_ports = "60100-60000"'}, "",
                                ["ftp.passive_ports"]),
    "bad-port-range-form": ({'passive_ports = "60000-60100"': 'passive_ports = "sixty"'}, "", ["ftp.passive_ports"]),
    "bad-port-range-big": ({'passive_ports = "60000-60100"': 'passive_ports = "60000-70000"'}, "",
                           ["ftp.passive_ports"]),
    "bad-log-level": ({'level = "info"': 'level = "loud"'}, "", ["log.level"]),
    "bad-tls-mode": ({"active_mode = true": 'active_mode = true\ntls = "sometimes"'}, "", ["ftp.tls"]),
    "bad-driver": ({'driver = "local"': 'driver = "floppy"'}, "", ["storage[1].driver"]),
    "bad-addressing": ({'addressing = "path"': 'addressing = "sideways"'}, "", ["storage[2].addressing"]),
    "duplicate-user": ({'name = "bob"': 'name = "alice"'}, "", ["user[2]", "alice"]),
    "duplicate-storage": ({'name = "s3file"': 'name = "s3lit"'}, "", ["storage[4]", "s3lit"]),
    "home-unknown-storage": ({'home = "local:files/alice"': 'home = "nosuch:files/alice"'}, "",
                             ["user[1].home", "nosuch"]),
    "home-unknown-storage-2": ({'home = "s3env:bucket/bob"': 'home = "gone:bucket/bob"'}, "", ["user[2].home"]),
    "folder-unknown-storage": ({'target = "s3lit:shared-bucket/"': 'target = "nope:shared-bucket/"'}, "",
                               ["user[1].folder[1].target"]),
    "folder-overlap": ({'delete = false': 'delete = false\n' + folder("/shared/sub")}, "", ["user[1].folder["]),
    "folder-duplicate-path": ({'delete = false': 'delete = false\n' + folder("/shared")}, "", ["user[1].folder["]),
    "folder-authority": ({'authority = "RO"\ndelete = false': 'authority = "XX"\ndelete = false'}, "",
                         ["user[1].folder[1].authority"]),
    "user-authority": ({'authority = "RW"': 'authority = "ALL"'}, "", ["user[1].authority"]),
    "env-unset": ({'access_key = "AKIALITERALACCESSKEY"': 'access_key = "env:FERRY_TEST_UNSET_VAR"'}, "",
                  ["storage[2].access_key", "FERRY_TEST_UNSET_VAR"]),
    "sftp-reorder-window-too-small": ({}, '\n[sftp]\nlisten = ""\nreorder_window = "1KiB"\n', ["sftp.reorder_window"]),
    "sftp-max-sessions-zero": ({}, '\n[sftp]\nlisten = ""\nmax_sessions_per_connection = 0\n',
                               ["sftp.max_sessions_per_connection"]),
    "sftp-without-host-keys": ({}, '\n[sftp]\nlisten = "127.0.0.1:2222"\n', ["sftp.host_keys"]),
    "sftp-unreadable-host-key": ({}, '\n[sftp]\nlisten = "127.0.0.1:2222"\nhost_keys = ["/nonexistent/key"]\n',
                                 ["sftp.host_keys[1]"]),
    "sftp-host-key-not-a-key": ({}, '\n[sftp]\nlisten = "127.0.0.1:2222"\nhost_keys = ["/etc/hostname"]\n',
                                ["sftp.host_keys[1]", "not a private key"]),
    "sftp-unknown-cipher": ({}, '\n[sftp]\nlisten = "127.0.0.1:2222"\nhost_keys = []\nciphers = ["aes128-gcm@openssh.com", "rot13"]\n',
                            ["sftp.ciphers", "rot13"]),
    "sftp-ecdsa-host-key": ({}, "\n[sftp]\nlisten = \"127.0.0.1:2222\"\nhost_keys = [{key}]\n".format(
        key=json.dumps(str(sshsupport.keys()["host_ecdsa"].private))), ["sftp.host_keys[1]", "use ed25519 or RSA"]),
    "sftp-two-keys-of-one-type": ({}, "\n[sftp]\nlisten = \"127.0.0.1:2222\"\nhost_keys = [{key}, {key}]\n".format(
        key=json.dumps(str(sshsupport.keys()["host_ed25519"].private))), ["sftp.host_keys[2]", "only one key of each type"]),
    "file-unreadable": ({'secret_key = "literal-secret-key-5678"': 'secret_key = "file:/nonexistent/ferry-key"'},
                        "", ["storage[2].secret_key"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_check_config_errors(ferry_bin, config, case):
    replace, append, wanted = BAD_CONFIGS[case]
    r, out = check_config(ferry_bin, config(replace=replace, append=append))
    assert r.returncode == 1, f"exit {r.returncode}, output:\n{out}"
    for text in wanted:
        assert text in out, f"message does not name {text!r}:\n{out}"
    assert "Fatal error" not in out and "Stack dump" not in out, out  # a message, not a crash
    for secret in SECRETS.values():
        assert secret not in out


def test_check_config_toml_syntax_error(ferry_bin, config):
    path = config(append="\n[[user]\nname = \n")
    r, out = check_config(ferry_bin, path)
    assert r.returncode == 1, out
    assert out.strip(), "no message"


def test_check_config_missing_file(ferry_bin, tmp_path):
    missing = tmp_path / "does-not-exist.toml"
    r, out = check_config(ferry_bin, missing)
    assert r.returncode == 1, out
    assert str(missing) in out or "does-not-exist.toml" in out


def test_serve_refuses_bad_config(ferry_bin, config, tmp_path):
    path = config(replace={'idle_timeout = "5m"': 'idle_timeout = "5 parsecs"'})
    r = run([ferry_bin, "serve", "--config", path], env=cli_env(), cwd=tmp_path, timeout=30)
    assert r.returncode != 0
    assert "limits.idle_timeout" in r.stdout + r.stderr


# ---------------------------------------------------------------------------------------------
# serve: stops cleanly on SIGTERM
# ---------------------------------------------------------------------------------------------

def test_sigterm_stops_server(ferry_factory):
    server = ferry_factory()
    idle = server.ftp("rw")  # an idle session must not keep the server alive
    try:
        server.stopped_by_us = True
        server.proc.send_signal(signal.SIGTERM)
        try:
            rc = server.proc.wait(20)
        except subprocess.TimeoutExpired:
            pytest.fail("ferry serve did not stop within 20 s of SIGTERM")
        assert rc == 0, f"exit code {rc}"
    finally:
        idle.close()
    # the port is free again
    deadline = time.monotonic() + 5
    while True:
        try:
            with socket.socket() as s:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.bind(("127.0.0.1", server.port))
            break
        except OSError:
            assert time.monotonic() < deadline, "listening port still in use after exit"
            time.sleep(0.2)
