"""A fleet (issue 12): three Ferry instances on 127.0.0.11-13 behind one HAProxy on 127.0.0.1 that
runs docs/deploy/haproxy.cfg (addresses and ports replaced; HAProxy connects from 127.0.0.2, the
address the instances trust for PROXY headers), over one SeaweedFS bucket. Real clients go through
HAProxy: curl, lftp, ftplib, FTPS with TLS session reuse required, OpenSSH sftp and scp. Then a
brute force from one address, kill -9 of an instance mid-upload, and SIGTERM behind the balancer."""

from __future__ import annotations

import ftplib
import hashlib
import io
import re
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from conftest import (FerryServer, SessionReusingFTP_TLS, client_tls_context, free_port, free_port_range,
                      make_certificate, make_tree, random_bytes, release_ports, s3_storage_toml, tls_toml,
                      tree_snapshot, unique_prefix, user_toml, wait_for)
from sshsupport import scp, sftp_batch

ROOT = Path(__file__).resolve().parents[2]
FRONT = "127.0.0.1"
BALANCER_SOURCE = "127.0.0.2"
MEMBERS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]
USER, PASSWORD = "fleet", "fleet-secret"
MIB = 1 << 20


@dataclass
class Fleet:
    members: list[FerryServer]
    front: SimpleNamespace  # host/port/sftp_port/passwords of HAProxy, for FerryServer's client helpers
    haproxy: subprocess.Popen
    stats_socket: Path
    prefix: str

    def ftp(self, timeout: float = 30, source: str | None = None) -> ftplib.FTP:
        f = ftplib.FTP(encoding="utf-8", timeout=timeout, source_address=(source, 0) if source else None)
        f.connect(FRONT, self.front.port)
        f.login(USER, PASSWORD)
        return f

    def server_states(self) -> dict[tuple[str, str], str]:
        """HAProxy's view: (backend, server) -> status (UP, DOWN, ...)."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(str(self.stats_socket))
            s.sendall(b"show stat\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
        lines = data.decode().splitlines()
        header = lines[0].lstrip("# ").split(",")
        states = {}
        for line in lines[1:]:
            fields = dict(zip(header, line.split(",")))
            if fields.get("svname") not in ("FRONTEND", "BACKEND", None):
                states[(fields["pxname"], fields["svname"])] = fields["status"]
        return states

    def member_of(self, marker: str) -> FerryServer:
        """The member whose log mentions `marker` (a file name, say)."""
        found = [m for m in self.members if marker in m.log_text()]
        assert len(found) == 1, f"{marker!r} in {len(found)} member logs"
        return found[0]


def haproxy_config(ports: dict, ranges: list[tuple[int, int]], front_ftp: int, front_sftp: int, stats: Path) -> str:
    text = (ROOT / "docs/deploy/haproxy.cfg").read_text()
    text = re.sub(r"\b10\.0\.0\.(1[1-3])\b", r"127.0.0.\1", text)
    text = text.replace("bind :21\n", f"bind {FRONT}:{front_ftp}\n").replace("bind :22\n", f"bind {FRONT}:{front_sftp}\n")
    for index, (lo, hi) in enumerate(ranges):
        text = text.replace(f"bind :{60000 + 100 * index}-{60099 + 100 * index}\n", f"bind {FRONT}:{lo}-{hi}\n")
    text = text.replace(":2121\n", f":{ports['port']}\n").replace(":2222\n", f":{ports['sftp_port']}\n")
    text = text.replace("port 9464", f"port {ports['metrics_port']}")
    # Test-only: HAProxy's own address as the instances see it, and a stats socket to watch it.
    text = text.replace("defaults\n", f"defaults\n    source {BALANCER_SOURCE}\n", 1)
    text = text.replace("global\n", f"global\n    stats socket {stats} mode 600 level admin\n", 1)
    settings = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    assert ":2121" not in settings and "10.0.0." not in settings and "bind :" not in settings, settings
    return text


@pytest.fixture(scope="module")
def fleet(ferry_module_factory, s3_target, s3_bucket, tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet")
    certificate = make_certificate(base / "tls")
    prefix = unique_prefix("fleet")
    ports = {"port": free_port(), "sftp_port": free_port(), "metrics_port": free_port()}
    ranges = [free_port_range(10) for _ in MEMBERS]
    front_ftp, front_sftp = free_port(), free_port()
    members = []
    for host, passive in zip(MEMBERS, ranges):
        members.append(ferry_module_factory(
            host=host, fixed_ports={**ports, "passive": passive}, metrics=True, max_login_failures=3,
            ftp_toml=f'masquerade_address = "{FRONT}"',
            extra_toml=s3_storage_toml("s3", s3_target, abandoned_upload_age="10s") + tls_toml(certificate)
            + f'\n[proxy_protocol]\nfrom = ["{BALANCER_SOURCE}/32"]\n',
            users_toml=user_toml(USER, PASSWORD, f"s3:{s3_target.bucket}/{prefix}"), passwords={USER: PASSWORD}))
    stats = base / "haproxy.sock"
    config = base / "haproxy.cfg"
    config.write_text(haproxy_config(ports, ranges, front_ftp, front_sftp, stats))
    log = open(base / "haproxy.log", "wb")
    proxy = subprocess.Popen(["haproxy", "-db", "-f", str(config)], stdout=log, stderr=subprocess.STDOUT)
    front = SimpleNamespace(host=FRONT, port=front_ftp, sftp_port=front_sftp, passwords={USER: PASSWORD})
    fleet = Fleet(members, front, proxy, stats, prefix)
    try:
        assert wait_for(lambda: stats.exists(), timeout=10), (base / "haproxy.log").read_text()
        assert wait_for(lambda: all(state == "UP" for (backend, _), state in fleet.server_states().items()
                                    if backend in ("ferry_ftp", "ferry_sftp")), timeout=15), fleet.server_states()
        yield fleet
    finally:
        proxy.terminate()
        proxy.wait(10)
        log.close()
        release_ports([front_ftp, front_sftp])
        s3_bucket.delete_prefix(prefix + "/")


def client_addresses(member: FerryServer) -> set[str]:
    return set(re.findall(r"client=([0-9.]+)", member.log_text()))


def test_real_clients_through_haproxy(fleet, tmp_path):
    front = fleet.front
    # curl: several uploads and downloads (roundrobin spreads them over the members).
    for index in range(6):
        data = random_bytes(300_000 + index, seed=index)
        source = tmp_path / f"curl-{index}.bin"
        source.write_bytes(data)
        r = FerryServer.curl(front, "-T", str(source), FerryServer.url(front, f"/curl/{index}.bin"), "--ftp-create-dirs", user=USER)
        assert r.returncode == 0, r.stderr
        r = FerryServer.curl_bytes(front, FerryServer.url(front, f"/curl/{index}.bin"), user=USER)
        assert r.returncode == 0 and r.stdout == data, r.stderr
    # ftplib, passive mode.
    with fleet.ftp() as f:
        f.storbinary("STOR ftplib.bin", io.BytesIO(b"ftplib through haproxy\n" * 1000))
        out = io.BytesIO()
        f.retrbinary("RETR ftplib.bin", out.write)
        assert out.getvalue() == b"ftplib through haproxy\n" * 1000
    # FTPS with tls_session_reuse = "required": the data connection reaches the same instance.
    for _ in range(3):
        f = SessionReusingFTP_TLS(context=client_tls_context(), encoding="utf-8", timeout=30)
        f.connect(FRONT, front.port)
        f.login(USER, PASSWORD)
        f.prot_p()
        f.storbinary("STOR ftps.bin", io.BytesIO(b"secret bytes\n" * 5000))
        assert "ftps.bin" in f.nlst()
        f.quit()
    # lftp: mirror a tree up and back.
    src, back = tmp_path / "src", tmp_path / "back"
    make_tree(src)
    r = FerryServer.lftp(front, f'mirror -R --no-perms --no-umask "{src}" /tree', user=USER, home=tmp_path / "home")
    assert r.returncode == 0, r.stdout + r.stderr
    r = FerryServer.lftp(front, f'mirror --no-perms --no-umask /tree "{back}"', user=USER, home=tmp_path / "home")
    assert r.returncode == 0, r.stdout + r.stderr
    assert tree_snapshot(back) == tree_snapshot(src)
    # OpenSSH sftp and scp.
    local = tmp_path / "ssh.bin"
    local.write_bytes(random_bytes(2 * MIB + 3, seed=77))
    r = sftp_batch(front.sftp_port, USER, f'put "{local}" ssh.bin\nget ssh.bin "{tmp_path / "ssh-back.bin"}"\n')
    assert r.returncode == 0, r.stdout
    assert (tmp_path / "ssh-back.bin").read_bytes() == local.read_bytes()
    r = scp(front.sftp_port, str(local), f"{USER}@{FRONT}:scp.bin")
    assert r.returncode == 0, r.stdout
    r = scp(front.sftp_port, f"{USER}@{FRONT}:scp.bin", str(tmp_path / "scp-back.bin"))
    assert r.returncode == 0 and (tmp_path / "scp-back.bin").read_bytes() == local.read_bytes(), r.stdout

    # Every member served someone, and every log and xferlog names the client, never HAProxy.
    for member in fleet.members:
        assert "login succeeded" in member.log_text(), f"{member.host} served nobody"
        addresses = client_addresses(member)
        assert "127.0.0.1" in addresses and BALANCER_SOURCE not in addresses, (member.host, addresses)
        transfers = member.xferlog_lines()
        assert transfers and all(" 127.0.0.1 " in line for line in transfers), transfers[:3]


def test_throughput_and_logins_through_haproxy_versus_direct(fleet, tmp_path, capsys):
    """Figures for the closing note, same run (printed; speed is not asserted)."""
    payload = tmp_path / "big.bin"
    payload.write_bytes(random_bytes(64 * MIB, seed=64))
    direct = SimpleNamespace(host=fleet.members[0].host, port=fleet.members[0].port, passwords={USER: PASSWORD})
    figures = {}
    for label, target in (("direct", direct), ("haproxy", fleet.front)):
        started = time.monotonic()
        r = FerryServer.curl(target, "-T", str(payload), FerryServer.url(target, f"/speed-{label}.bin"), user=USER, timeout=300)
        assert r.returncode == 0, r.stderr
        upload = 64 / (time.monotonic() - started)
        started = time.monotonic()
        r = FerryServer.curl(target, "-o", str(tmp_path / f"down-{label}.bin"), FerryServer.url(target, f"/speed-{label}.bin"),
                             user=USER, timeout=300)
        assert r.returncode == 0, r.stderr
        download = 64 / (time.monotonic() - started)
        started = time.monotonic()
        for _ in range(30):
            f = ftplib.FTP(encoding="utf-8", timeout=30)
            f.connect(target.host, target.port)
            f.login(USER, PASSWORD)
            f.quit()
        figures[label] = (upload, download, 30 / (time.monotonic() - started))
    with capsys.disabled():
        for label, (up, down, logins) in figures.items():
            print(f"\n{label}: upload {up:.0f} MiB/s, download {down:.0f} MiB/s, {logins:.0f} FTP sessions/s (64 MiB, curl; 30 logins)")


def test_brute_force_through_haproxy_bans_that_client_only(fleet):
    attacker, neighbour = "127.0.0.5", "127.0.0.6"
    banned_everywhere = False
    for _ in range(15):  # 3 failures per member ban it there; HAProxy spreads the attempts
        try:
            f = ftplib.FTP(encoding="utf-8", timeout=30, source_address=(attacker, 0))
            f.connect(FRONT, fleet.front.port)
        except ftplib.error_temp as error:
            assert "failed logins" in str(error)
            banned_everywhere = all(_connect_refused_as_banned(fleet, attacker) for _ in range(3))
            if banned_everywhere:
                break
            continue
        try:
            f.login(USER, "wrong")
        except ftplib.error_perm:
            pass
        f.close()
    assert banned_everywhere, "the attacker was not banned on every member"
    for member in fleet.members:
        assert "address banned client=127.0.0.5" in member.log_text()
    # The neighbour behind the same balancer, and HAProxy's own address, are not banned.
    with fleet.ftp(source=neighbour) as f:
        assert f.pwd() == "/"


def _connect_refused_as_banned(fleet, source: str) -> bool:
    try:
        f = ftplib.FTP(encoding="utf-8", timeout=30, source_address=(source, 0))
        f.connect(FRONT, fleet.front.port)
    except ftplib.error_temp as error:
        return "failed logins" in str(error)
    f.close()
    return False


def _upload(fleet, name: str, data: bytes, release: threading.Event, results: dict):
    """STOR through HAProxy: the first 8 MiB, a wait for `release`, then the rest."""
    try:
        f = fleet.ftp(timeout=60)
        f.voidcmd("TYPE I")
        connection = f.transfercmd(f"STOR {name}")
        connection.sendall(data[:8 * MIB])
        release.wait(60)
        connection.sendall(data[8 * MIB:])
        connection.close()
        f.voidresp()
        f.quit()
        results[name] = "ok"
    except (OSError, EOFError, ftplib.Error) as error:
        results[name] = f"failed: {error!r}"


def test_kill_9_one_instance_mid_upload(fleet, s3_bucket, capsys):
    victim = fleet.members[1]
    files = {f"kill-{index}.bin": random_bytes(12 * MIB + index, seed=100 + index) for index in range(6)}
    release, results = threading.Event(), {}
    threads = [threading.Thread(target=_upload, args=(fleet, name, data, release, results)) for name, data in files.items()]
    for thread in threads:
        thread.start()
        time.sleep(0.2)
    # Every upload has its first part out (a multipart upload exists for each).
    assert wait_for(lambda: len(s3_bucket.pending_uploads(fleet.prefix + "/")) == len(files), timeout=30), \
        s3_bucket.pending_uploads(fleet.prefix + "/")
    on_victim = [name for name in files if f"/{name}" in victim.log_text()]
    assert on_victim, "no upload went to the member to be killed"
    victim.stopped_by_us = True
    victim.proc.kill()
    killed_at = time.monotonic()
    victim.proc.wait(10)
    release.set()
    for thread in threads:
        thread.join(90)
    failed = sorted(name for name, outcome in results.items() if outcome != "ok")
    assert failed == sorted(on_victim), results
    # Nothing half-written is visible for them.
    for name in failed:
        assert not s3_bucket.exists(f"{fleet.prefix}/{name}"), f"a partial {name} is visible"
    # Retried through HAProxy they complete on the survivors.
    for name in failed:
        with fleet.ftp(timeout=60) as f:
            f.storbinary(f"STOR {name}", io.BytesIO(files[name]))
    for name, data in files.items():
        assert hashlib.sha256(s3_bucket.get(f"{fleet.prefix}/{name}")).digest() == hashlib.sha256(data).digest(), name
    # The killed member's pending multipart uploads are aborted by a survivor once idle for 10 s.
    assert wait_for(lambda: s3_bucket.pending_uploads(fleet.prefix + "/") == [], timeout=40, interval=0.5), \
        s3_bucket.pending_uploads(fleet.prefix + "/")
    reaped_after = time.monotonic() - killed_at
    with capsys.disabled():
        print(f"\nkill -9 left {len(failed)} multipart uploads; reaped {reaped_after:.1f} s after the kill "
              f"(abandoned_upload_age = 10s)")
    survivors = [m for m in fleet.members if m is not victim]
    assert any("abandoned upload aborted" in m.log_text() for m in survivors)


def test_sigterm_behind_haproxy(fleet, capsys):
    alive = [m for m in fleet.members if m.alive]
    assert len(alive) >= 2
    # A long upload on some member.
    f = fleet.ftp(timeout=60)
    f.voidcmd("TYPE I")
    connection = f.transfercmd("STOR draining.bin")
    connection.sendall(b"d" * (6 * MIB))
    draining = fleet.member_of("/draining.bin")
    backend_name = f"ferry{fleet.members.index(draining) + 1}"
    draining.stopped_by_us = True
    draining.proc.send_signal(signal.SIGTERM)
    started = time.monotonic()
    assert wait_for(lambda: draining.http_get("/healthz")[0] == 503, timeout=5, interval=0.01)
    to_503 = time.monotonic() - started
    assert wait_for(lambda: fleet.server_states()[("ferry_ftp", backend_name)].startswith("DOWN"), timeout=5), fleet.server_states()
    with capsys.disabled():
        print(f"\nSIGTERM to /healthz 503: {to_503 * 1000:.0f} ms; to HAProxy marking it DOWN: "
              f"{(time.monotonic() - started) * 1000:.0f} ms (check interval 1 s)")
    # New sessions go to the others.
    for _ in range(4):
        with fleet.ftp() as other:
            assert other.pwd() == "/"
    # The running transfer completes; then the process exits 0.
    connection.sendall(b"e" * MIB)
    connection.close()
    assert f.voidresp().startswith("226")
    f.close()
    draining.proc.wait(30)
    assert draining.proc.returncode == 0
