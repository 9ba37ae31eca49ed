"""A 100,000-object directory on S3 listed completely by MLSD and by SFTP READDIR, page by page, with
Ferry's memory growth during each listing measured (issue 13 §4: bounded memory for any size). The
objects carry rclone's `mtime` metadata, so with the default `listing_times = "stored"` the first
listing reads every file's time (a HeadObject each, 32 at once) and the next ones take it from
memory; both are timed."""
from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest

import sshsupport
from conftest import s3_storage_toml, unique_prefix, user_toml

OBJECTS = 100_000
USER, PASSWORD = "big", "big-pass-9753"
RSS_GROWTH_GOAL_MIB = 32


def rss_kib(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} for {pid}")


class PeakRSS:
    """Samples a process's RSS every 50 ms while a block runs; `growth_mib` is the peak minus the start."""

    def __init__(self, pid: int):
        self.pid = pid
        self.start = self.peak = rss_kib(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self):
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, rss_kib(self.pid))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kib(self.pid))

    @property
    def growth_mib(self) -> float:
        return (self.peak - self.start) / 1024


@pytest.fixture(scope="module")
def big_directory(s3_target, tmp_path_factory):
    """100,000 one-byte objects under `<prefix>/d/`, uploaded by rclone (64 at a time: boto3 from
    Python takes twice as long)."""
    prefix = unique_prefix("big-listing")
    local = tmp_path_factory.mktemp("big")
    for index in range(OBJECTS):
        (local / f"f{index:06d}.txt").write_bytes(b"x")
    env = dict(os.environ, RCLONE_CONFIG_BIG_TYPE="s3", RCLONE_CONFIG_BIG_PROVIDER="Other",
               RCLONE_CONFIG_BIG_ENDPOINT=s3_target.endpoint, RCLONE_CONFIG_BIG_ACCESS_KEY_ID=s3_target.access_key,
               RCLONE_CONFIG_BIG_SECRET_ACCESS_KEY=s3_target.secret_key, RCLONE_CONFIG_BIG_REGION=s3_target.region)
    started = time.monotonic()
    result = subprocess.run([sshsupport.rclone_binary(), "copy", str(local), f"big:{s3_target.bucket}/{prefix}/d",
                             "--transfers", "64", "--checkers", "16", "--no-check-dest", "--s3-no-check-bucket",
                             "--s3-disable-checksum", "-q"], env=env, capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr
    print(f"\ncreated {OBJECTS} objects in {time.monotonic() - started:.1f} s")
    # Left in place: deleting them takes SeaweedFS over two minutes, and `make test` wipes its S3
    # server at the end of the run anyway (scripts/with-s3). The prefix is this run's own.
    return prefix


def test_hundred_thousand_entries_by_mlsd_and_readdir(ferry_factory, s3_target, big_directory, capsys):
    server = ferry_factory(extra_toml=s3_storage_toml("s3", s3_target),
                           users_toml=user_toml(USER, PASSWORD, f"s3:{s3_target.bucket}/{big_directory}"),
                           passwords={USER: PASSWORD})
    pid = server.proc.pid
    f = server.ftp(USER)
    f.cwd("/d")
    started = time.monotonic()
    with PeakRSS(pid) as mlsd_rss:
        names = [name for name, facts in f.mlsd() if facts.get("type") == "file"]
    mlsd_seconds = time.monotonic() - started
    f.quit()
    assert len(names) == OBJECTS and len(set(names)) == OBJECTS
    assert names[0] == "f000000.txt" and names[-1] == f"f{OBJECTS - 1:06d}.txt"

    # Listed again: every time is remembered, no HeadObject.
    mark = server.log_size()
    f = server.ftp(USER)
    f.cwd("/d")
    started = time.monotonic()
    again = sum(1 for _, facts in f.mlsd() if facts.get("type") == "file")
    again_seconds = time.monotonic() - started
    f.quit()
    assert again == OBJECTS
    file_heads = [line for line in server.log_text(mark).splitlines() if "operation=HeadObject" in line and "/d/f" in line]
    assert file_heads == [], file_heads[:3]

    sftp = sshsupport.paramiko_sftp(server.sftp_port, USER, password=PASSWORD)
    started = time.monotonic()
    with PeakRSS(pid) as readdir_rss:
        entries = sftp.listdir_attr("/d")
    readdir_seconds = time.monotonic() - started
    sftp.get_channel().get_transport().close()
    assert len(entries) == OBJECTS and len({e.filename for e in entries}) == OBJECTS
    assert all(e.st_size == 1 for e in entries)

    with capsys.disabled():
        print(f"\n{OBJECTS} entries: MLSD {mlsd_seconds:.1f} s (times read), {again_seconds:.1f} s again (times remembered), "
              f"RSS growth {mlsd_rss.growth_mib:.1f} MiB; "
              f"SFTP READDIR {readdir_seconds:.1f} s, RSS growth {readdir_rss.growth_mib:.1f} MiB "
              f"(Ferry at {rss_kib(pid) / 1024:.1f} MiB after)")
    assert mlsd_rss.growth_mib < RSS_GROWTH_GOAL_MIB
    assert readdir_rss.growth_mib < RSS_GROWTH_GOAL_MIB
