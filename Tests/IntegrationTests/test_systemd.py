"""systemd integration (issue 12, part 5): the notify protocol against a stand-in $NOTIFY_SOCKET
(READY at start, RELOADING with MONOTONIC_USEC then READY around a reload, STOPPING at a stop), and
`make install`'s script into a staging root, with the unit checked by `systemd-analyze verify`."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def messages(sock: socket.socket, until: str, timeout: float = 15) -> list[dict[str, str]]:
    """Datagrams received until one holds `until` (e.g. "READY=1"); each parsed into a dict."""
    received = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            break
        fields = dict(line.split("=", 1) for line in data.decode().split("\n") if "=" in line)
        received.append(fields)
        key, value = until.split("=", 1)
        if fields.get(key) == value:
            return received
    raise AssertionError(f"no {until} within {timeout}s; got {received}")


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_notify_protocol(ferry_factory, tmp_path, abstract):
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    if abstract:
        name = f"ferry-notify-{os.getpid()}-{time.monotonic_ns()}"
        listener.bind("\0" + name)
        address = "@" + name
    else:
        address = str(tmp_path / "notify.sock")
        listener.bind(address)
    with listener:
        server = ferry_factory(env={"NOTIFY_SOCKET": address}, pid_file=True)
        ready = messages(listener, "READY=1")
        assert ready[-1].get("STATUS") == "serving"
        # READY comes after the pid file is written (ferry reload may be used at once).
        assert server.pid_file.read_text().strip() == str(server.proc.pid)

        before_reload = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        server.proc.send_signal(signal.SIGHUP)
        around = messages(listener, "READY=1")
        reloading = next(m for m in around if m.get("RELOADING") == "1")
        # Type=notify-reload wants the monotonic time of the reload's start.
        assert before_reload <= int(reloading["MONOTONIC_USEC"]) <= time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        assert around[-1]["STATUS"].startswith("serving (configuration reloaded")

        server.stopped_by_us = True
        server.proc.send_signal(signal.SIGTERM)
        stopping = messages(listener, "STOPPING=1")
        assert stopping[-1]["STATUS"] == "draining"
        server.proc.wait(15)
        assert server.proc.returncode == 0
        assert not server.pid_file.exists(), "the pid file outlived the process"


def install(tmp_path: Path, ferry_bin: Path, config: str | None = None) -> Path:
    stage = tmp_path / "stage"
    if config is not None:
        (stage / "etc/ferry").mkdir(parents=True, exist_ok=True)
        (stage / "etc/ferry/ferry.toml").write_text(config)
    result = subprocess.run([str(ROOT / "scripts/install")], env={**os.environ, "DESTDIR": str(stage), "FERRY_BIN": str(ferry_bin)},
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return stage


def test_install_stages_binary_unit_and_configuration(tmp_path, ferry_bin):
    stage = install(tmp_path, ferry_bin)
    binary = stage / "usr/local/bin/ferry"
    assert os.access(binary, os.X_OK)
    assert subprocess.run([str(binary), "version"], capture_output=True, timeout=30).returncode == 0
    config = stage / "etc/ferry/ferry.toml"
    assert config.read_text() == (ROOT / "conf/ferry.example.toml").read_text()
    assert oct(config.stat().st_mode & 0o777) == "0o640"
    unit = (stage / "etc/systemd/system/ferry.service").read_text()
    for setting in ("Type=notify", "ProtectSystem=strict", "NoNewPrivileges=yes", "User=ferry", "CapabilityBoundingSet=\n",
                    "ExecReload=/usr/local/bin/ferry reload"):
        assert setting in unit, setting
    # Ports 2121/2222 in the example: no capability drop-in.
    assert not (stage / "etc/systemd/system/ferry.service.d/10-low-ports.conf").exists()
    # A second install keeps the operator's configuration.
    config.write_text(config.read_text() + "\n# edited by the operator\n")
    install(tmp_path, ferry_bin)
    assert config.read_text().endswith("# edited by the operator\n")


def test_low_ports_get_cap_net_bind_service_only(tmp_path, ferry_bin):
    stage = install(tmp_path, ferry_bin, config='[ftp]\nlisten = "0.0.0.0:21"   # FTP\n[sftp]\nlisten = "[::]:2222"\n')
    dropin = stage / "etc/systemd/system/ferry.service.d/10-low-ports.conf"
    assert "AmbientCapabilities=CAP_NET_BIND_SERVICE" in dropin.read_text()
    (stage / "etc/ferry/ferry.toml").write_text('[ftp]\nlisten = "0.0.0.0:2121"\n')
    install(tmp_path, ferry_bin)
    assert not dropin.exists()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_unit_passes_systemd_analyze_verify(tmp_path, ferry_bin):
    stage = install(tmp_path, ferry_bin)
    # verify checks that the executables exist: point the unit at the staged binary.
    unit = (stage / "etc/systemd/system/ferry.service").read_text().replace("/usr/local/bin/ferry", str(stage / "usr/local/bin/ferry"))
    checked = tmp_path / "ferry.service"
    checked.write_text(unit)
    result = subprocess.run(["systemd-analyze", "verify", str(checked)], capture_output=True, text=True, timeout=60)
    # verify exits 0 even for settings it ignores; those are reported as "<unit>:<line>: ..." lines.
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "ferry.service" in line]
    assert result.returncode == 0, result.stdout + result.stderr
    assert problems == [], problems


def test_sighup_as_soon_as_the_pid_file_exists_reloads(ferry_factory, ferry_bin):
    """The signal handlers exist before the pid file is written: a reload asked for the moment the
    pid file appears (as `systemctl reload` right after start may do) must not end the process."""
    server = ferry_factory(pid_file=True)
    server.stop()
    server.pid_file.unlink(missing_ok=True)
    offset = server.log_size()
    with open(server.log_path, "ab") as log:
        proc = subprocess.Popen([str(ferry_bin), "serve", "--config", str(server.config_path), "--pid-file", str(server.pid_file)],
                                cwd=server.base, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while not server.pid_file.exists() and time.monotonic() < deadline:
            time.sleep(0.001)
        assert server.pid_file.exists()
        proc.send_signal(signal.SIGHUP)
        applied, log = server.await_reload(offset)
        assert applied and proc.poll() is None, log
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    assert proc.returncode == 0
