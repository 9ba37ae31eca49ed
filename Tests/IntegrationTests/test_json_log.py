"""`[log] format = "json"`: every line Ferry writes is one JSON object with time, level, logger and
message, the event's fields typed (counts as numbers), and no password anywhere."""
from __future__ import annotations

import ftplib
import io
import json
import re

import pytest

from conftest import HOST


def test_json_log_lines_parse_and_carry_typed_fields(ferry_factory):
    server = ferry_factory(log_format="json")
    f = ftplib.FTP(encoding="utf-8")
    f.connect(HOST, server.port, timeout=30)
    with pytest.raises(ftplib.error_perm):
        f.login("rw", "wrong-secret-xyz")
    f.close()
    f = ftplib.FTP(encoding="utf-8")
    f.connect(HOST, server.port, timeout=30)
    f.login("rw", server.passwords["rw"])
    f.storbinary("STOR j.bin", io.BytesIO(b"j" * 1234))
    got = io.BytesIO()
    f.retrbinary("RETR j.bin", got.write)
    f.quit()
    assert got.getvalue() == b"j" * 1234
    server.stop()
    text = server.log_text()
    events = []
    for line in text.splitlines():
        if line.startswith("=== test harness"):
            continue  # the harness's own marker lines
        event = json.loads(line)  # every line Ferry wrote is one JSON object
        assert isinstance(event, dict), line
        assert {"time", "level", "logger", "message"} <= event.keys(), line
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["time"]), line
        events.append(event)
    transfers = [e for e in events if e["message"] == "transfer complete"]
    assert len(transfers) == 2, transfers
    for event in transfers:
        assert event["bytes"] == 1234 and isinstance(event["seconds"], (int, float)), event
        assert event["user"] == "rw" and event["protocol"] == "ftp" and event["path"].endswith("/j.bin"), event
    assert any(e["message"] == "login succeeded" and e.get("user") == "rw" for e in events)
    assert any(e["level"] in ("info", "warning", "notice") and "fail" in e["message"] for e in events), events
    for secret in (server.passwords["rw"], "wrong-secret-xyz"):
        assert secret not in text
