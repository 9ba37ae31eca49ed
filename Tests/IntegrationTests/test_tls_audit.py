"""Audit tools that others wrote: testssl.sh against FTPS, explicit (`--starttls ftp` on the FTP
control port, AUTH TLS) and implicit (the `implicit_tls_listen` port, TLS from the first byte), with
the standard `[tls]` settings (TLS >= 1.2, Ferry's built-in cipher list) and the test certificate.

What counts is testssl's own verdict, read from its flat JSON file (one finding a line: id, severity
OK/INFO/LOW/MEDIUM/HIGH/CRITICAL, or WARN/FATAL when a check could not be done, and the finding):
- no HIGH or CRITICAL finding, except the certificate findings listed in CERTIFICATE_FINDINGS, which
  any self-signed two-day test certificate has (each is ignored only with its expected text);
- no WARN or FATAL: a check that could not be done is a failed audit, not a pass (except the two
  session-resumption checks in INFO_ONLY_CHECKS, which never rate above INFO);
- explicitly: SSLv2, SSLv3, TLS 1.0 and 1.1 not offered (TLS 1.2 and 1.3 offered); no NULL,
  anonymous, EXPORT, LOW (DES, RC2, RC4), 3DES/IDEA cipher offered and no RC4; secure renegotiation
  and no client-initiated renegotiation.

testssl 3.0.8 rates TLS 1.0 and 1.1 offered as LOW only, so the explicit checks are not redundant.

Speed (both forms together 45-65 s on 2 cores with other work running): only the checks that carry
the verdict run (-p protocols, -s cipher categories, -f forward secrecy, -U vulnerabilities, -S server
defaults and certificate), not -e/-E (every cipher), -c (client simulation) or -P; the two scans run
at the same time. `--fast` is not used: with it the RC4 check falls back to the local OpenSSL, which
has no RC4, and reports WARN instead of a verdict.

Nothing leaves loopback: the target is an IP literal and `-n none` does no DNS lookup (`--ip one`
would contradict it; there is nothing to choose between), no `--phone-out` (no OCSP/CRL fetch;
PHONE_OUT=false in the environment too), no CAA/CT lookup, and NXCONNECT=127.0.0.1:0 makes the local
OpenSSL capability probes (`s_client -curves X -connect ...`) fail on loopback instead of resolving
"invalid." through the system's DNS. (testssl's other local probes run `openssl s_client` without
`-connect`, which tries localhost:4433.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import HOST, tls_toml

SCAN_TIMEOUT = 300  # seconds, for each testssl run (30-60 s each, run side by side)

TESTSSL_OPTIONS = [
    "--quiet", "--color", "0", "--warnings", "off", "--sneaky", "--nodns", "none",
    "-p", "-s", "-f", "-U", "-S",
]

TESTSSL_ENV = {
    "NXCONNECT": "127.0.0.1:0",  # local OpenSSL probes: no DNS lookup of "invalid."
    "PHONE_OUT": "false",        # no CRL download, no OCSP query (also the default without --phone-out)
    "HEADER_MAXSLEEP": "2",      # service banner wait (default 5 s): the 220 greeting comes at once,
                                 # but on the implicit port testssl sends an HTTP GET and waits for EOF
    "COLUMNS": "120",
}

# The test certificate (conftest's make_certificate: self-signed, CN=localhost, no SAN, valid 2 days)
# draws these HIGH/CRITICAL findings, whatever server presents it. Each is ignored only while its text
# says what is expected here; anything else from the certificate checks (key size, signature
# algorithm, ...) still counts. Not listed, because they are below HIGH already: cert_subjectAltName
# (MEDIUM, no SAN), OCSP_stapling, DNS_CAArecord (skipped by -n none), certificate_transparency (INFO).
CERTIFICATE_FINDINGS = {
    # self-signed: no CA testssl trusts
    "cert_chain_of_trust": r"self signed",
    # scanned as 127.0.0.1, the certificate names localhost (CN only, no SAN)
    "cert_trust": r"does not match supplied URI",
    # valid two days: "expires < 30 days (1)", and the notAfter date flagged for the same reason
    "cert_expirationStatus": r"expires < \d+ days",
    "cert_notAfter": r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$",
    # no CRL distribution point, no OCSP URI in a test certificate
    "cert_revocation": r"Neither CRL nor OCSP URI provided",
}

# Findings that must be there, with a finding text that starts with one of the given values.
REQUIRED = {
    "SSLv2": ("not offered",),
    "SSLv3": ("not offered",),
    "TLS1": ("not offered",),
    "TLS1_1": ("not offered",),
    "TLS1_2": ("offered",),
    "TLS1_3": ("offered",),
    "cipherlist_NULL": ("not offered",),
    "cipherlist_aNULL": ("not offered",),
    "cipherlist_EXPORT": ("not offered",),
    "cipherlist_LOW": ("not offered",),        # 64 bit, DES, RC2, RC4 (without export)
    "cipherlist_3DES_IDEA": ("not offered",),
    "RC4": ("not vulnerable", "no RC4"),
    "secure_renego": ("supported",),
    "secure_client_renego": ("not vulnerable",),
}

BAD_SEVERITIES = {"HIGH", "CRITICAL", "WARN", "FATAL"}

# Checks whose only verdicts are INFO (supported / not supported), so a WARN from them cannot hide a
# HIGH or CRITICAL finding. Seen once with the machine under heavy load (load average ~37):
# sessionresumption_ticket WARN "check failed because of connect problem" (its openssl s_client run
# got no handshake); not reproduced in 60 runs of that s_client command alone.
INFO_ONLY_CHECKS = {"sessionresumption_ticket", "sessionresumption_ID"}

# Notes about testssl's own openssl, not about the server scanned (they carry no target address):
# Debian 12's openssl 3 has no GOST engine, which testssl reports as a WARN on some machines.
SCANNER_NOTES = {"engine_problem": r"^No engine or GOST support"}


def find_testssl() -> str:
    """Debian's package installs `testssl`; upstream's name is `testssl.sh`."""
    path = shutil.which("testssl.sh") or shutil.which("testssl")
    if path is None:
        pytest.fail("testssl.sh not found (neither `testssl.sh` nor `testssl` on PATH): "
                    "`apt-get install testssl.sh`, which `make test` does", pytrace=False)
    return path


def version_of_testssl(binary: str) -> str:
    r = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=60)
    m = re.search(r"testssl(?:\.sh)?\s+(\d\S*)", re.sub(r"\x1b\[[0-9;]*m", "", r.stdout))
    return m.group(1) if m else "unknown"


@dataclass
class Scan:
    form: str
    command: list[str]
    output: Path  # testssl's screen output
    returncode: int
    seconds: float
    findings: list[dict]

    def describe(self) -> str:
        return (f"{self.form} FTPS scan ({self.seconds:.0f} s, exit {self.returncode}): "
                f"`{' '.join(self.command)}` (output in {self.output})")


def run_scans(binary: str, targets: dict[str, list[str]], directory: Path) -> dict[str, Scan]:
    """Runs testssl once per target (form -> target arguments), all at once; parses the JSON files."""
    openssl = shutil.which("openssl")
    assert openssl, "openssl not found on PATH"
    env = {**os.environ, **TESTSSL_ENV}
    started = {}
    for form, target in targets.items():
        json_path = directory / f"{form}.json"  # testssl refuses to write over an existing file
        output = directory / f"{form}.txt"
        command = [binary, *TESTSSL_OPTIONS, "--openssl", openssl, "--jsonfile", str(json_path), *target]
        with open(output, "wb") as out:
            proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd=directory, env=env, start_new_session=True)
        started[form] = (proc, command, json_path, output, time.monotonic())
    scans = {}
    try:
        for form, (proc, command, json_path, output, start) in started.items():
            try:
                returncode = proc.wait(timeout=max(1.0, start + SCAN_TIMEOUT - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"testssl did not finish within {SCAN_TIMEOUT}s: {' '.join(command)}\n"
                            f"{tail_text(output)}", pytrace=False)
            seconds = time.monotonic() - start
            # The exit code adds up the checks' return values (7 is usual); 242 and above are testssl's
            # fatal errors (bad command line, cannot connect, cannot write the file, ...).
            if returncode >= 242 or not json_path.is_file():
                pytest.fail(f"testssl failed (exit {returncode}): {' '.join(command)}\n{tail_text(output)}",
                            pytrace=False)
            findings = json.loads(json_path.read_text(encoding="utf-8", errors="replace"))
            scans[form] = Scan(form, command, output, returncode, seconds, findings)
    finally:
        for proc, *_ in started.values():
            kill_scan(proc)
    return scans


def kill_scan(proc: subprocess.Popen):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)


def tail_text(path: Path, lines: int = 60) -> str:
    text = path.read_text(encoding="utf-8", errors="replace") if path.is_file() else "(no output)"
    return "\n".join(text.splitlines()[-lines:])


def audit_problems(findings: list[dict]) -> list[str]:
    """Everything wrong in one scan's findings: bad severities (less the expected certificate
    findings), required findings missing or with another verdict."""
    problems = []
    by_id: dict[str, list[dict]] = {}
    for f in findings:
        by_id.setdefault(f.get("id", ""), []).append(f)
        severity = f.get("severity", "")
        finding = f.get("finding", "")
        if severity not in BAD_SEVERITIES or (severity == "WARN" and f.get("id") in INFO_ONLY_CHECKS):
            continue
        note = SCANNER_NOTES.get(f.get("id"))
        if note is not None and severity == "WARN" and re.search(note, finding):
            continue
        expected = CERTIFICATE_FINDINGS.get(f.get("id"))
        if expected is not None and severity in ("HIGH", "CRITICAL") and re.search(expected, finding):
            continue
        problems.append(f"{severity} {f.get('id')}: {finding}")
    for finding_id, verdicts in REQUIRED.items():
        entries = by_id.get(finding_id)
        if not entries:
            problems.append(f"missing finding {finding_id} (expected {' / '.join(verdicts)})")
            continue
        for f in entries:
            if not f.get("finding", "").startswith(verdicts):
                problems.append(f"{finding_id}: {f.get('severity')} {f.get('finding')!r}, "
                                f"expected {' / '.join(verdicts)}")
    if "scanTime" not in by_id:
        problems.append("no scanTime: the scan did not run to its end")
    return problems


@pytest.fixture(scope="module")
def tls_scans(ferry_module_factory, tls_cert, tmp_path_factory) -> dict[str, Scan]:
    """testssl on both FTPS forms of one server with the standard [tls] settings."""
    binary = find_testssl()
    server = ferry_module_factory(extra_toml=tls_toml(tls_cert), implicit_tls=True)
    return run_scans(binary, {
        "explicit": ["--starttls", "ftp", f"{HOST}:{server.port}"],
        "implicit": [f"{HOST}:{server.implicit_port}"],
    }, tmp_path_factory.mktemp("testssl"))


@pytest.mark.parametrize("form", ["explicit", "implicit"])
def test_testssl_finds_no_high_or_critical(tls_scans, form):
    scan = tls_scans[form]
    problems = audit_problems(scan.findings)
    assert problems == [], (f"{scan.describe()}, testssl {version_of_testssl(scan.command[0])}:\n"
                            + "\n".join(problems) + f"\n--- testssl output ---\n{tail_text(scan.output, 120)}")
