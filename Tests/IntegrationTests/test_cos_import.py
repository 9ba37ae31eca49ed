"""`ferry import-cos-config`: the sample cos-ftp-server configuration from ../shared/reference/, its
variants and malformed files; and a Ferry started from an imported configuration serving the imported
users over FTP against SeaweedFS (`--endpoint` points the storages at it)."""
from __future__ import annotations

import configparser
import ftplib
import io
import os
import re
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from conftest import HOST, free_port, free_port_range

REFERENCE = Path(os.environ.get("SHARED") or Path(__file__).resolve().parents[3] / "shared") / "reference" / "cos-ftp-server.md"


def sample() -> str:
    """The sample configuration of the reference, as shipped (comments, tabs and all)."""
    text = REFERENCE.read_text(encoding="utf-8")
    return re.search(r"```ini\n(.*?)```", text, re.S).group(1)


def run_import(ferry_bin, directory: Path, config_text: str | bytes, *args: str) -> subprocess.CompletedProcess:
    path = directory / "vsftpd.conf"
    if isinstance(config_text, str):
        path.write_text(config_text, encoding="utf-8")
    else:
        path.write_bytes(config_text)
    return subprocess.run([str(ferry_bin), "import-cos-config", str(path), *args], cwd=directory,
                          capture_output=True, text=True, timeout=120)


def environment_of(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        name, _, value = line.partition("=")
        values[name] = value.strip("'")
    return values


def check_config(ferry_bin, directory: Path, toml: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    (directory / "ferry.toml").write_text(toml, encoding="utf-8")
    return subprocess.run([str(ferry_bin), "check-config", "--config", "ferry.toml"], cwd=directory,
                          capture_output=True, text=True, timeout=60, env={**os.environ, **env})


def options_of(config_text: str) -> list[str]:
    parser = configparser.ConfigParser(inline_comment_prefixes=("#",), interpolation=None)
    parser.read_string(config_text)
    return [f"{section}.{key}" for section in parser.sections() for key in parser[section]]


def test_sample_converts_reports_every_option_and_passes_check_config(ferry_bin, tmp_path):
    original = sample()
    r = run_import(ferry_bin, tmp_path, original)
    assert r.returncode == 0, r.stderr
    # Every option of the file is in the report, as mapped, ignored or unmapped.
    for option in options_of(original):
        assert re.search(rf"^(mapped|ignored|unmapped) +{re.escape(option)}: ", r.stderr, re.M), (option, r.stderr)
    # Passwords hashed, keys not in the TOML: they are in a new 0600 file.
    for secret in ("pass0", "pass1", "AKIDEXAMPLE0", "SECRETEXAMPLE0", "SECRETEXAMPLE1"):
        assert secret not in r.stdout, secret
    env_file = tmp_path / "cos-credentials.env"
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    env = environment_of(env_file)
    assert sorted(env.values()) == sorted(["AKIDEXAMPLE0", "SECRETEXAMPLE0", "AKIDEXAMPLE1", "SECRETEXAMPLE1"])
    assert re.findall(r'^password_hash = "\$y\$', r.stdout, re.M) and len(re.findall(r"^\[\[user\]\]", r.stdout, re.M)) == 2
    assert 'home = "cos-1:photos-1250000000"' in r.stdout and 'home = "cos-2:archive-1250000000"' in r.stdout
    assert 'endpoint = "https://cos.ap-guangzhou.myqcloud.com"' in r.stdout
    assert 'authority = "RO"\ndelete = false' in r.stdout
    assert 'masquerade_address = "203.0.113.10"' in r.stdout and 'passive_ports = "60000-65535"' in r.stdout
    assert "max_connections = 255" in r.stdout  # (512 - 1) / 2 clients
    # The output passes check-config unchanged, given the environment file.
    checked = check_config(ferry_bin, tmp_path, r.stdout, env)
    assert checked.returncode == 0, checked.stderr
    # The original is untouched, and a second run never replaces the keys written by the first.
    assert (tmp_path / "vsftpd.conf").read_text(encoding="utf-8") == original
    before = env_file.read_bytes()
    again = subprocess.run([str(ferry_bin), "import-cos-config", "vsftpd.conf"], cwd=tmp_path, capture_output=True, text=True)
    assert again.returncode == 1 and "exists already" in again.stderr and again.stdout == ""
    assert env_file.read_bytes() == before


ACCOUNT = """[COS_ACCOUNT_{n}]
cos_secretid = {secret_id}
cos_secretkey = {secret_key}
cos_bucket = {bucket}
{location}
home_dir = /home/u{n}
ftp_login_user_name = {user}
ftp_login_user_password = pw{n}
authority = {authority}
delete_enable = {delete}
"""


def account(n: int, *, user: str | None = None, secret_id="AKIDSHARED", secret_key="SECRETSHARED", bucket=None,
            location="cos_region = ap-beijing", authority="RW", delete="true") -> str:
    return ACCOUNT.format(n=n, user=user or f"user{n}", secret_id=secret_id, secret_key=secret_key,
                          bucket=bucket or f"bucket{n}-1250000000", location=location, authority=authority, delete=delete)


def test_accounts_with_the_same_service_share_one_storage(ferry_bin, tmp_path):
    r = run_import(ferry_bin, tmp_path, account(0) + account(1) + account(2, authority="WO", delete="false"))
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("[[storage]]") == 1 and 'name = "cos"' in r.stdout
    assert 'access_key = "env:COS_SECRET_ID"' in r.stdout
    assert r.stdout.count("[[user]]") == 3 and 'authority = "WO"\ndelete = false' in r.stdout
    env = environment_of(tmp_path / "cos-credentials.env")
    assert env == {"COS_SECRET_ID": "AKIDSHARED", "COS_SECRET_KEY": "SECRETSHARED"}
    assert check_config(ferry_bin, tmp_path, r.stdout, env).returncode == 0


@pytest.mark.parametrize("location, endpoint, region", [
    ("cos_region = ap-chengdu", "https://cos.ap-chengdu.myqcloud.com", "ap-chengdu"),
    ("cos_region = ap-chengdu\ncos_protocol = http", "http://cos.ap-chengdu.myqcloud.com", "ap-chengdu"),
    # the endpoint wins over the region; the region still signs
    ("cos_region = ap-chengdu\ncos_endpoint = cos.ap-chengdu.tencentcos.cn", "https://cos.ap-chengdu.tencentcos.cn", "ap-chengdu"),
    # an endpoint alone names its region
    ("cos_endpoint = cos.ap-nanjing.tencentcos.cn", "https://cos.ap-nanjing.tencentcos.cn", "ap-nanjing"),
])
def test_endpoint_and_region(ferry_bin, tmp_path, location, endpoint, region):
    r = run_import(ferry_bin, tmp_path, account(0, location=location))
    assert r.returncode == 0, r.stderr
    assert f'endpoint = "{endpoint}"' in r.stdout and f'region = "{region}"' in r.stdout


def test_optional_section_variants(ferry_bin, tmp_path):
    text = account(0) + """
[OPTIONAL]
max_connection_num = 0
min_part_size = 8388608
upload_thread_num = 8
log_level = DEBUG
max_list_file = 10000
"""
    r = run_import(ferry_bin, tmp_path, text)
    assert r.returncode == 0, r.stderr
    assert "max_connections" not in r.stdout  # 0 = unlimited in cos-ftp-server: Ferry's default stays
    assert re.search(r"^ignored +OPTIONAL\.max_connection_num: 0 = unlimited", r.stderr, re.M), r.stderr
    assert 'part_size = "8388608"' in r.stdout and "upload_concurrency = 8" in r.stdout and 'level = "debug"' in r.stdout
    assert re.search(r"^ignored +OPTIONAL\.max_list_file: ", r.stderr, re.M)
    env = environment_of(tmp_path / "cos-credentials.env")
    assert check_config(ferry_bin, tmp_path, r.stdout, env).returncode == 0


def test_inline_secrets_on_request(ferry_bin, tmp_path):
    r = run_import(ferry_bin, tmp_path, account(0), "--inline-secrets")
    assert r.returncode == 0, r.stderr
    assert 'access_key = "AKIDSHARED"' in r.stdout and 'secret_key = "SECRETSHARED"' in r.stdout
    assert not (tmp_path / "cos-credentials.env").exists()
    assert "pw0" not in r.stdout
    assert check_config(ferry_bin, tmp_path, r.stdout, {}).returncode == 0


@pytest.mark.parametrize("text, expected", [
    (account(0).replace("cos_bucket = bucket0-1250000000\n", ""), r"\[COS_ACCOUNT_0\] cos_bucket \(line 1\): missing"),
    (account(0) + account(1, user="user0"), r"\[COS_ACCOUNT_1\] ftp_login_user_name \(line \d+\): .*user0.*unique"),
    (account(0, authority="RX"), r"\[COS_ACCOUNT_0\] authority \(line \d+\): expected RW, RO or WO"),
    (account(0, delete="maybe"), r"\[COS_ACCOUNT_0\] delete_enable .*expected true or false"),
    (account(0, location="cos_endpoint = storage.example.com"), r"\[COS_ACCOUNT_0\] cos_region .*does not name one"),
    (account(0) + "[NETWORK]\npassive_port = 60000-65535\n", r"\[NETWORK\] passive_port \(line \d+\): expected LOW,HIGH"),
    ("[NETWORK]\nlisten_port = 2121\n", r"no \[COS_ACCOUNT_n\] section"),
    ("cos_bucket = x\n[COS_ACCOUNT_0]\n", r"line 1: cos_bucket is outside any section"),
    (account(0) + "just some words\n", r"line \d+: expected key = value"),
    (account(0) + "[COS_ACCOUNT_0\n", r"line \d+: a section header must look like \[NAME\]"),
    (account(0).encode() + b"# \xb2\xbb\xca\xc7 UTF-8\n", r"line 11: the file is not valid UTF-8"),
])
def test_bad_input_is_a_clear_error(ferry_bin, tmp_path, text, expected):
    r = run_import(ferry_bin, tmp_path, text)
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert re.search(expected, r.stderr), r.stderr
    assert r.stdout == "" and not (tmp_path / "cos-credentials.env").exists()


def ftp(port: int, user: str, password: str) -> ftplib.FTP:
    f = ftplib.FTP(encoding="utf-8")
    f.connect(HOST, port, timeout=30)
    f.login(user, password)
    return f


def test_imported_configuration_serves_its_users(ferry_bin, tmp_path, s3_target, s3_bucket):
    """The imported users log in over FTP against SeaweedFS with their authority and delete flag."""
    buckets = ["photos-1250000000", "archive-1250000000"]
    for bucket in buckets:
        try:
            s3_bucket.client.create_bucket(Bucket=bucket)
        except s3_bucket.client.exceptions.BucketAlreadyOwnedByYou:
            pass
    s3_bucket.client.put_object(Bucket=buckets[1], Key="report.txt", Body=b"archived")
    port = free_port()
    low, high = free_port_range(10)
    text = (account(0, secret_id=s3_target.access_key, secret_key=s3_target.secret_key, bucket=buckets[0],
                    location=f"cos_region = {s3_target.region}")
            + account(1, secret_id=s3_target.access_key, secret_key=s3_target.secret_key, bucket=buckets[1],
                      location=f"cos_region = {s3_target.region}", authority="RO", delete="false")
            + f"[NETWORK]\nlisten_port = {port}\npassive_port = {low},{high}\n")
    r = run_import(ferry_bin, tmp_path, text, "--endpoint", s3_target.endpoint)
    assert r.returncode == 0, r.stderr
    (tmp_path / "ferry.toml").write_text(r.stdout, encoding="utf-8")
    env = {**os.environ, **environment_of(tmp_path / "cos-credentials.env")}
    with open(tmp_path / "ferry.log", "wb") as log:
        proc = subprocess.Popen([str(ferry_bin), "serve", "--config", "ferry.toml"], cwd=tmp_path, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, (tmp_path / "ferry.log").read_text()
            try:
                socket.create_connection((HOST, port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, (tmp_path / "ferry.log").read_text()
                time.sleep(0.2)
        rw = ftp(port, "user0", "pw0")
        rw.storbinary("STOR new.txt", io.BytesIO(b"fresh"))
        assert s3_bucket.client.get_object(Bucket=buckets[0], Key="new.txt")["Body"].read() == b"fresh"
        assert "new.txt" in rw.nlst()
        rw.delete("new.txt")
        rw.quit()
        ro = ftp(port, "user1", "pw1")
        got = io.BytesIO()
        ro.retrbinary("RETR report.txt", got.write)
        assert got.getvalue() == b"archived"
        with pytest.raises(ftplib.error_perm, match="^550"):
            ro.storbinary("STOR nope.txt", io.BytesIO(b"x"))
        with pytest.raises(ftplib.error_perm, match="^550"):
            ro.delete("report.txt")
        ro.quit()
        with pytest.raises(ftplib.error_perm, match="^530"):
            ftp(port, "user1", "pw0")
    finally:
        proc.terminate()
        proc.wait(timeout=40)
