"""GET /metrics (swift-metrics with the swift-prometheus backend) after a scripted workload: exact
counts for logins, transfers, bytes, bans and the S3 requests a fault proxy saw; the page passes
`promtool check metrics`; the Grafana dashboard in docs/ uses only metrics the page has, in PromQL
that `promtool check rules` accepts."""
from __future__ import annotations

import collections
import ftplib
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import sshsupport
from conftest import HOST, s3_storage_toml, unique_prefix, user_toml, wait_for

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "docs" / "grafana-dashboard.json"
S3_USER, S3_PASSWORD = "mx", "mx-secret-metrics"

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Page:
    """One scrape, parsed: families by name (from `# TYPE`) and sample values by (name, labels)."""

    def __init__(self, text: str):
        self.text = text
        self.types: dict[str, str] = {}
        self.helps: dict[str, str] = {}
        self.samples: dict[tuple[str, frozenset], float] = {}
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
            elif line.startswith("# HELP "):
                _, _, name, help_text = line.split(" ", 3)
                self.helps[name] = help_text
            elif line and not line.startswith("#"):
                match = SAMPLE.match(line)
                assert match, f"not a sample line: {line!r}"
                labels = frozenset(LABEL.findall(match.group(2) or ""))
                self.samples[(match.group(1), labels)] = float(match.group(3))

    def value(self, name: str, **labels) -> float:
        key = (name, frozenset(labels.items()))
        assert key in self.samples, f"no sample {name}{labels} in:\n{self.text}"
        return self.samples[key]

    def total(self, name: str, **labels) -> float:
        """Sum over every series of `name` whose labels include `labels`."""
        wanted = set(labels.items())
        return sum(v for (n, ls), v in self.samples.items() if n == name and wanted <= ls)

    def series(self, name: str) -> dict[frozenset, float]:
        return {ls: v for (n, ls), v in self.samples.items() if n == name}


def scrape(server) -> Page:
    status, body = server.http_get("/metrics")
    assert status == 200, body
    return Page(body)


def promtool() -> str:
    path = shutil.which("promtool")
    assert path, "promtool is missing: `make test-deps` installs Debian's prometheus package"
    return path


# Ferry's operation names next to the fault proxy's (it cannot tell copies from writes, nor V1 from
# V2 listings).
PROXY_OPERATION = {"ListObjectsV2": "ListObjects", "CopyObject": "PutObject", "UploadPartCopy": "UploadPart"}


@pytest.fixture
def prefix(s3_bucket):
    name = unique_prefix("metrics")
    yield name
    s3_bucket.delete_prefix(name + "/")


def test_metrics_after_a_scripted_workload(ferry_factory, s3_target, s3_bucket, fault_proxy, prefix):
    # Every fifth request of each S3 operation is answered 503 SlowDown by the proxy (the first
    # included), so that retries happen and are counted.
    proxy = fault_proxy(mode="faults", fault="slowdown", every=5, phase=1)
    server = ferry_factory(metrics=True, max_login_failures=3,
                           extra_toml=s3_storage_toml("s3", s3_target, endpoint=proxy.url),
                           users_toml=user_toml(S3_USER, S3_PASSWORD, f"s3:{s3_target.bucket}/{prefix}"),
                           passwords={S3_USER: S3_PASSWORD})
    assert server.http_get("/healthz") == (200, "ok\n")
    fresh = scrape(server)
    # Series a dashboard reads exist at zero from the start.
    assert fresh.value("ferry_logins_total", protocol="sftp", result="success") == 0
    assert fresh.value("ferry_transfers_total", protocol="ftp", direction="upload", outcome="aborted") == 0
    assert fresh.value("ferry_bans_total") == 0
    assert fresh.value("ferry_uploads_in_progress") == 0

    # FTP on local storage: two uploads, one download, one wrong password.
    with pytest.raises(ftplib.error_perm):
        f = ftplib.FTP()
        f.connect(HOST, server.port, timeout=30)
        f.login("rw", "not-the-password")
    f = server.ftp("rw")
    f.storbinary("STOR a.bin", io.BytesIO(b"a" * 1000))
    f.storbinary("STOR b.bin", io.BytesIO(b"b" * 2000))
    got = io.BytesIO()
    f.retrbinary("RETR a.bin", got.write)
    f.quit()
    assert got.getvalue() == b"a" * 1000

    # FTP on S3 through the proxy: one upload, one download.
    f = server.ftp(S3_USER)
    f.storbinary("STOR s.bin", io.BytesIO(b"s" * 3000))
    got = io.BytesIO()
    f.retrbinary("RETR s.bin", got.write)
    f.quit()
    assert got.getvalue() == b"s" * 3000

    # SFTP: one complete upload and download, then an upload the client abandons.
    sftp = sshsupport.paramiko_sftp(server.sftp_port, "rw")
    sftp.putfo(io.BytesIO(b"p" * 5000), "p.bin")
    # Closed before the transport: a handle left to paramiko's garbage collector is closed
    # asynchronously, and a disconnect that overtakes its CLOSE counts the download as aborted.
    with sftp.open("p.bin") as download:
        assert download.read() == b"p" * 5000
    sftp.get_channel().get_transport().close()
    wait_for(lambda: scrape(server).value("ferry_sessions_active", protocol="sftp") == 0, timeout=10)
    sftp = sshsupport.paramiko_sftp(server.sftp_port, "rw")
    handle = sftp.open("abandoned.bin", "wb")
    handle.write(b"x" * 1000)
    handle.flush()
    during = scrape(server)
    assert during.value("ferry_uploads_in_progress") == 1
    assert during.value("ferry_sessions_active", protocol="sftp") == 1
    sftp.get_channel().get_transport().close()
    wait_for(lambda: scrape(server).value("ferry_sessions_active", protocol="sftp") == 0, timeout=10)

    page = scrape(server)
    assert page.value("ferry_uploads_in_progress") == 0
    assert page.value("ferry_logins_total", protocol="ftp", result="success") == 2
    assert page.value("ferry_logins_total", protocol="ftp", result="failure") == 1
    assert page.value("ferry_logins_total", protocol="sftp", result="success") == 2
    assert page.value("ferry_logins_total", protocol="sftp", result="failure") == 0
    assert page.value("ferry_transfers_total", protocol="ftp", direction="upload", outcome="complete") == 3
    assert page.value("ferry_transfers_total", protocol="ftp", direction="download", outcome="complete") == 2
    assert page.value("ferry_transfers_total", protocol="sftp", direction="upload", outcome="complete") == 1
    assert page.value("ferry_transfers_total", protocol="sftp", direction="upload", outcome="aborted") == 1
    assert page.value("ferry_transfers_total", protocol="sftp", direction="download", outcome="complete") == 1
    assert page.total("ferry_transfers_total", outcome="failed") == 0
    assert page.total("ferry_transfers_total") == 8
    assert page.value("ferry_transfer_bytes_total", protocol="ftp", direction="upload") == 6000
    assert page.value("ferry_transfer_bytes_total", protocol="ftp", direction="download") == 4000
    assert page.value("ferry_transfer_bytes_total", protocol="sftp", direction="upload") == 6000
    assert page.value("ferry_transfer_bytes_total", protocol="sftp", direction="download") == 5000
    assert page.value("ferry_sessions_active", protocol="ftp") == 0
    assert page.value("ferry_transfer_memory_bytes") == 0
    assert page.value("ferry_transfer_memory_limit_bytes") > 0
    assert list(page.series("ferry_build_info").values()) == [1]
    assert "partial upload discarded" in server.log_text()

    # S3: Ferry counted exactly the requests the proxy saw, by operation and status.
    seen = collections.Counter()
    for record in proxy.snapshot():
        status = "503" if record.outcome == "slowdown" else str(record.status)
        assert record.outcome in ("forwarded", "slowdown"), record
        seen[(record.operation, status)] += 1
    counted = collections.Counter()
    for labels, value in page.series("ferry_s3_requests_total").items():
        labels = dict(labels)
        if value:
            counted[(PROXY_OPERATION.get(labels["operation"], labels["operation"]), labels["status"])] += int(value)
    assert counted == seen and seen[("PutObject", "200")] >= 1 and seen[("GetObject", "200")] >= 1
    faults = len(proxy.faults())
    assert faults >= 2 and page.total("ferry_s3_retries_total") == faults
    # Every request has its latency in the histogram of its operation.
    histogram_count = page.total("ferry_s3_request_duration_seconds_count")
    assert histogram_count == sum(seen.values())
    assert page.types["ferry_s3_request_duration_seconds"] == "histogram"
    for labels, value in page.series("ferry_s3_request_duration_seconds_bucket").items():
        assert value <= page.value("ferry_s3_request_duration_seconds_count",
                                   operation=dict(labels)["operation"])

    # Three wrong passwords in a row from this address (the successful logins reset the count): one ban.
    for _ in range(3):
        with pytest.raises(ftplib.error_perm):
            f = ftplib.FTP()
            f.connect(HOST, server.port, timeout=30)
            f.login("rw", "still-not-the-password")
    page = scrape(server)
    assert page.value("ferry_bans_total") == 1
    assert page.value("ferry_logins_total", protocol="ftp", result="failure") == 4

    # The whole page passes Prometheus's own checker (format and lint: HELP, names, units).
    checked = subprocess.run([promtool(), "check", "metrics"], input=page.text, text=True, capture_output=True,
                             timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert set(page.helps) == set(page.types), "every family has a HELP line"
    # Every family exists now (S3 and retries included), so the dashboard's names can be checked.
    check_dashboard_names(page)


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    assert queries, "the dashboard has no queries"
    return queries


def check_dashboard_names(page: Page):
    """Every metric the dashboard queries is a family of `page`; the main ones are all used."""
    used = set()
    for query in dashboard_queries():
        for name in re.findall(r"\bferry_[a-z0-9_]+", query):
            family = re.sub(r"_(bucket|count|sum)$", "", name) if name not in page.types else name
            used.add(family)
            assert family in page.types, f"{name} (in {query!r}) is not on /metrics"
    assert used >= {"ferry_sessions_active", "ferry_logins_total", "ferry_transfers_total", "ferry_bans_total",
                    "ferry_transfer_bytes_total", "ferry_s3_requests_total", "ferry_s3_request_duration_seconds",
                    "ferry_s3_retries_total", "ferry_uploads_in_progress", "ferry_transfer_memory_bytes"}, used


def test_dashboard_queries_are_valid_promql(tmp_path):
    # Each query, with Grafana's interval variable filled in, is valid PromQL.
    rules = tmp_path / "dashboard-rules.yml"
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, query in enumerate(dashboard_queries()):
        expr = query.replace("$__rate_interval", "5m").replace("$__interval", "1m")
        lines += [f"      - record: dashboard:query{index}", f"        expr: {json.dumps(expr)}"]
    rules.write_text("\n".join(lines) + "\n", encoding="utf-8")
    checked = subprocess.run([promtool(), "check", "rules", str(rules)], text=True, capture_output=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_metrics_listener_answers_only_known_paths(ferry_factory):
    server = ferry_factory(metrics=True, sftp=False)
    assert server.http_get("/nothing-here")[0] == 404
    assert server.http_get("/healthz") == (200, "ok\n")
