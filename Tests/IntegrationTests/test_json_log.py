"""`[log] format = "json"`: every line Ferry writes is one JSON object with time, level, logger and
message, the event's fields typed (counts as numbers), and no password anywhere. One event per login,
logout, transfer start and end, partial upload discarded, TLS resume refusal and ban. (That no log
of the whole integration run holds a password or secret key is checked by conftest at the end.)"""
from __future__ import annotations

import ftplib
import io
import json
import re

import pytest

import sshsupport
from conftest import HOST, tls_toml, wait_for


def json_events(server) -> list[dict]:
    """Every line Ferry wrote to its log, each parsed as one JSON object (the harness's markers skipped)."""
    events = []
    for line in server.log_text().splitlines():
        if line.startswith("=== test harness"):
            continue
        event = json.loads(line)
        assert isinstance(event, dict) and {"time", "level", "logger", "message"} <= event.keys(), line
        events.append(event)
    return events


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
    # One session id for everything one connection caused: its login, both transfers, their starts.
    session = transfers[0]["session"]
    assert re.fullmatch(r"[0-9a-f]{8}", session)
    mine = [e for e in events if e.get("session") == session]
    assert [e["message"] for e in mine if e["message"].startswith("transfer")] == [
        "transfer started", "transfer complete", "transfer started", "transfer complete"]
    # At debug level every reply follows the command it answers.
    commands = [e for e in mine if e["message"] in ("command", "reply")]
    stor = next(i for i, e in enumerate(commands) if e["message"] == "command" and e.get("verb") == "STOR")
    assert commands[stor + 1]["message"] == "reply" and commands[stor + 1]["code"] == "150", commands[stor:stor + 3]
    assert any(e["message"] == "reply" and e["code"] == "226" for e in commands[stor:])


def test_bans_and_sftp_failures_are_events(ferry_factory):
    server = ferry_factory(log_format="json", max_login_failures=2)
    client = sshsupport.paramiko_sftp(server.sftp_port, "rw")  # first: the address is banned below
    try:
        with pytest.raises(IOError):
            client.stat("/no/such/file.txt")
    finally:
        transport = client.get_channel().get_transport()
        client.close()
        transport.close()
    for _ in range(2):
        f = ftplib.FTP(encoding="utf-8")
        f.connect(HOST, server.port, timeout=30)
        with pytest.raises(ftplib.error_perm):
            f.login("rw", "wrong")
        f.close()
    server.stop()
    events = json_events(server)
    bans = [e for e in events if e["message"] == "address banned"]
    assert len(bans) == 1 and bans[0]["client"] == HOST and bans[0]["seconds"] == 60, bans
    failed = [e for e in events if e["message"] == "SFTP request failed"]
    assert any(e["request"] == "stat" and e["path"] == "/no/such/file.txt" and e["status"] == "noSuchFile"
               for e in failed), failed


def test_login_logout_abandoned_upload_and_tls_refusal_are_events(ferry_factory, tls_cert):
    server = ferry_factory(log_format="json", extra_toml=tls_toml(tls_cert))  # tls_session_reuse = "required"
    # SFTP: a login, an upload the client abandons (the connection closes before CLOSE), a logout.
    client = sshsupport.paramiko_sftp(server.sftp_port, "rw")
    handle = client.open("abandoned.bin", "wb")
    handle.write(b"z" * 777)
    handle.flush()
    client.get_channel().get_transport().close()
    # FTPS with the stock client, which does not resume the TLS session on its data connections.
    f = server.ftps(reuse_session=False)
    with pytest.raises(ftplib.error_perm) as refused:
        f.retrlines("LIST", lambda line: None)
    assert str(refused.value).startswith("522")
    f.quit()
    wait_for(lambda: sum(1 for e in json_events(server) if e["message"] == "logout") == 2, timeout=10)
    server.stop()
    events = json_events(server)

    logins = [e for e in events if e["message"] == "login succeeded"]
    assert {(e["protocol"], e["user"]) for e in logins} == {("sftp", "rw"), ("ftp", "rw")}, logins
    logouts = [e for e in events if e["message"] == "logout"]
    assert {(e["protocol"], e["user"]) for e in logouts} == {("sftp", "rw"), ("ftp", "rw")}, logouts
    assert all(isinstance(e["seconds"], (int, float)) and e["session"] for e in logouts), logouts
    for logout in logouts:  # the logout closes the session its login opened
        assert any(e["session"] == logout["session"] for e in logins), (logout, logins)

    aborted = [e for e in events if e["message"] == "transfer aborted"]
    assert len(aborted) == 1, aborted
    assert aborted[0]["outcome"] == "aborted" and aborted[0]["bytes"] == 777 and aborted[0]["direction"] == "upload"
    discarded = [e for e in events if e["message"] == "partial upload discarded"]
    assert len(discarded) == 1 and discarded[0]["path"] == "/abandoned.bin" and discarded[0]["bytes"] == 777, discarded
    assert discarded[0]["session"] == aborted[0]["session"] and discarded[0]["protocol"] == "sftp"

    refusals = [e for e in events if e["message"] == "TLS resume refused"]
    assert len(refusals) == 1, refusals
    assert refusals[0]["protocol"] == "ftp" and refusals[0]["user"] == "rw" and refusals[0]["client"].startswith(HOST)
    assert refusals[0]["level"] == "warning" and "resume" in refusals[0]["reason"], refusals


def test_configuration_reload_is_an_event(ferry_factory):
    server = ferry_factory(log_format="json")
    applied, _ = server.reload()
    assert applied
    server.config_path.write_text(server.config_path.read_text() + "\n[limits]\nbogus_key = 1\n")
    applied, _ = server.reload()
    assert not applied
    events = json_events(server)
    reloaded = [e for e in events if e["message"] == "configuration reloaded"]
    assert len(reloaded) == 1, reloaded
    event = reloaded[0]
    assert event["users"] >= 1 and event["users_added"] == 0 and event["users_removed"] == 0, event
    assert isinstance(event["seconds"], (int, float)) and event["path"].endswith("ferry.toml"), event
    failed = [e for e in events if e["message"] == "configuration reload failed: nothing changed"]
    assert len(failed) == 1 and failed[0]["level"] == "error" and failed[0]["errors"] >= 1, failed
    errors = [e for e in events if e["message"] == "configuration reload error"]
    assert errors and any("limits" in e["error"] for e in errors), errors
