"""Audit tools that others wrote (issue 10): ssh-audit against the SSH server. What counts is the
tools' own verdict: no failure-level finding (no NIST-curve key exchange or host key, no SHA-1
signature or MAC, no weak cipher) and the strict-KEX countermeasure against Terrapin offered.

ssh-audit's exit code: 0 good, 1 connection error, 2 warnings only, 3 at least one failure. With
libssh 0.10 the best reachable is 2: every key exchange without post-quantum protection is a warning."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

SSH_AUDIT = str(Path(sys.executable).with_name("ssh-audit"))


def test_ssh_audit_finds_no_failure(ferry):
    assert os.path.exists(SSH_AUDIT), "ssh-audit is installed into the test venv by make test"
    r = subprocess.run([SSH_AUDIT, "-j", "--skip-rate-test", "-t", "20", "-p", str(ferry.sftp_port), "127.0.0.1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode in (0, 2), f"ssh-audit exit {r.returncode}:\n{r.stdout[-3000:]}\n{r.stderr[-2000:]}"
    report = json.loads(r.stdout)
    failures = [(section, entry.get("algorithm"), entry.get("notes", {}).get("fail"))
                for section in ("kex", "key", "enc", "mac") for entry in report.get(section, [])
                if "fail" in entry.get("notes", {}) or not entry.get("algorithm")]
    assert failures == [], failures
    kex = [entry["algorithm"] for entry in report["kex"]]
    assert "kex-strict-s-v00@openssh.com" in kex, kex
    assert not [name for name in kex if name.startswith("ecdh-sha2-nistp")], kex
    macs = [entry["algorithm"] for entry in report["mac"]]
    assert not [name for name in macs if "sha1" in name], macs
    keys = [entry["algorithm"] for entry in report["key"]]
    assert "ssh-rsa" not in keys and "ssh-ed25519" in keys, keys
    assert report.get("cves", []) == [], report.get("cves")
