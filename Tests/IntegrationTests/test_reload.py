"""Live reload (issue 12, part 4): SIGHUP (or `ferry reload`) applies a changed file to new logins at
once, without a restart and without dropping sessions in progress; a broken file changes nothing
and every error is logged; a removed user's sessions end after their current transfer; settings
that need new sockets are reported, not half-applied."""

from __future__ import annotations

import ftplib
import hashlib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import (HOST, SessionReusingFTP_TLS, client_tls_context, make_certificate, reply_code, tls_toml,
                      toml_str, wait_for)
from sshsupport import keys, paramiko_sftp, sftp_batch


def carol(password: str, key_names=("ed25519", "rsa"), authority: str = "RW") -> str:
    """A user of the reload's own. `password` comes before `name` so that the harness does not add
    its own `ssh_keys` line to this table."""
    key_lines = ", ".join(toml_str(keys()[name].public_line) for name in key_names)
    return (f'\n[[user]]\npassword = {toml_str(password)}\nname = "carol"\nhome = "local:files/rw/carol"\n'
            f'authority = "{authority}"\ndelete = true\nssh_keys = [{key_lines}]\n')


def can_login_ftp(server, user: str, password: str) -> bool:
    try:
        server.ftp(user, password).quit()
        return True
    except ftplib.error_perm:
        return False


def certificate_of(server) -> bytes:
    with socket.create_connection((HOST, server.port), timeout=10) as raw:
        raw.settimeout(10)
        assert raw.recv(1024).startswith(b"220")
        raw.sendall(b"AUTH TLS\r\n")
        assert raw.recv(1024).startswith(b"234")
        with client_tls_context().wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


@pytest.fixture
def server(ferry_factory, tmp_path):
    (tmp_path / "homes").mkdir()
    first = make_certificate(tmp_path / "tls-1", common_name="first")
    started = ferry_factory(extra_toml=tls_toml(first), metrics=True, pid_file=True,
                            users_toml=carol("carol-one"), passwords={"carol": "carol-one"})
    (started.root / "files/rw/carol").mkdir(parents=True, exist_ok=True)
    return started


def test_users_passwords_keys_and_certificate_change_without_dropping_sessions(server, tmp_path, capsys):
    # Sessions in progress before the reload: FTPS with a data connection to come, and SFTP.
    before_ftps = server.ftps("rw")
    before_sftp = paramiko_sftp(server.sftp_port, "carol", password="carol-one")
    old_certificate = certificate_of(server)
    second = make_certificate(tmp_path / "tls-2", common_name="second")
    new_user = '\n[[user]]\npassword = "dave-secret"\nname = "dave"\nhome = "local:files/rw"\nauthority = "RO"\n'
    server.rewrite_config(extra_toml=tls_toml(second),
                          users_toml=carol("carol-two", key_names=("rsa",)) + new_user,
                          passwords={"carol": "carol-two", "dave": "dave-secret"})
    started = time.monotonic()
    applied, log = server.reload()
    with capsys.disabled():
        print(f"\nSIGHUP to 'configuration reloaded' seen in the log: {(time.monotonic() - started) * 1000:.0f} ms "
              f"({log.split('seconds=')[1].split()[0] if 'seconds=' in log else '?'} s inside Ferry)")
    assert applied, log
    assert "users_added=1" in log and "users_changed=1" in log and "users_removed=0" in log, log

    # New logins see every change.
    assert can_login_ftp(server, "dave", "dave-secret")
    assert not can_login_ftp(server, "carol", "carol-one")
    assert can_login_ftp(server, "carol", "carol-two")
    assert sftp_batch(server.sftp_port, "carol", "pwd\n", key="ed25519").returncode != 0, "a revoked key still logs in"
    assert sftp_batch(server.sftp_port, "carol", "pwd\n", key="rsa").returncode == 0
    assert certificate_of(server) != old_certificate

    # The sessions that were open go on: a PROT P data connection resumes the old TLS session.
    assert before_ftps.nlst() is not None
    with before_sftp.open("still-here.txt", "wb") as f:
        f.write(b"after the reload\n")
    assert before_sftp.stat("still-here.txt").st_size == 17
    before_sftp.close()
    before_ftps.quit()
    code, page = server.http_get("/metrics")
    assert 'ferry_config_reloads_total{result="ok"} 1' in page


def test_a_broken_file_changes_nothing_and_is_logged(server):
    good = server.config_path.read_text()
    server.config_path.write_text(good.replace('name = "carol"', 'name = "carol"\nauthority = "XX"', 1)
                                  + "\n[limits]\nmax_connections = 0\n")
    applied, log = server.reload()
    assert not applied
    assert "configuration reload failed: nothing changed" in log
    assert "authority" in log, log  # each error is named in the log
    assert can_login_ftp(server, "carol", "carol-one")
    code, page = server.http_get("/metrics")
    assert 'ferry_config_reloads_total{result="failed"} 1' in page
    # A file that does not parse at all.
    server.config_path.write_text("[ftp\nlisten = ")
    applied, log = server.reload()
    assert not applied and "configuration reload error" in log
    assert can_login_ftp(server, "rw", server.passwords["rw"])


def test_removed_and_changed_users_in_running_sessions(server):
    idle = server.ftp("carol", "carol-one")
    busy = server.ftp("carol", "carol-one")
    busy.voidcmd("TYPE I")
    upload = busy.transfercmd("STOR during-reload.bin")
    upload.sendall(b"x" * 100_000)
    demoted = server.ftp("rw")
    sftp_idle = paramiko_sftp(server.sftp_port, "carol", password="carol-one")

    # carol removed; rw becomes read-only.
    users = server.opts.users_toml.replace("\n[[user]]\npassword = ", "\n[[removed]]\npassword = ", 1)
    users = users[:users.index("\n[[removed]]")]
    server.rewrite_config(users_toml=users, passwords={})
    text = server.config_path.read_text()
    rw_table = text.index('name = "rw"')
    grant = text.index('authority = "RW"', rw_table)
    server.config_path.write_text(text[:grant] + 'authority = "RO"' + text[grant + len('authority = "RW"'):])
    applied, log = server.reload()
    assert applied, log
    assert "users_removed=1" in log and "users_changed=1" in log, log

    # The idle session is told at once; the running upload finishes first.
    idle.sock.settimeout(5)
    assert idle.getline().startswith("421")
    upload.sendall(b"y" * 100_000)
    upload.close()
    assert busy.voidresp().startswith("226")
    assert (server.root / "files/rw/carol/during-reload.bin").stat().st_size == 200_000
    busy.sock.settimeout(5)
    assert busy.getline().startswith("421"), "the removed user's session went on after its transfer"
    assert not can_login_ftp(server, "carol", "carol-one")
    # The SFTP session of the removed user ends too.
    transport = sftp_idle.get_channel().get_transport()
    assert wait_for(lambda: not transport.is_active() or sftp_idle.get_channel().closed, timeout=5)

    # rw's session now has RO at its next command.
    code, text = reply_code(demoted.storbinary, "STOR refused-now.txt", __import__("io").BytesIO(b"no"))
    assert code == 550, text
    assert demoted.nlst() is not None
    demoted.quit()


def test_listen_changes_need_a_restart_and_ferry_reload(server, ferry_bin):
    text = server.config_path.read_text()
    other_port = server.port + 1 if server.port < 18999 else server.port - 1
    changed = text.replace(f'listen = "{HOST}:{server.port}"', f'listen = "{HOST}:{other_port}"', 1)
    changed = changed.replace('level = "debug"', 'level = "info"', 1)
    assert changed != text
    server.config_path.write_text(changed)
    # `ferry reload` checks a file first and refuses to signal when it has errors.
    bad = server.base / "bad.toml"
    bad.write_text("[ftp]\nlisten = 1\n")
    refused = subprocess.run([str(ferry_bin), "reload", "--pid-file", str(server.pid_file), "--config", str(bad)],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1 and "not reloading" in refused.stderr
    offset = server.log_size()
    asked = subprocess.run([str(ferry_bin), "reload", "--pid-file", str(server.pid_file), "--config", str(server.config_path)],
                           capture_output=True, text=True, timeout=30)
    assert asked.returncode == 0, asked.stderr
    applied, log = server.await_reload(offset)
    assert applied, log
    assert "configuration change needs a restart" in log and "[ftp] listen" in log, log
    # Still on the old port, and the new log level applies (no debug lines any more).
    assert can_login_ftp(server, "rw", server.passwords["rw"])
    after = server.log_size()
    can_login_ftp(server, "rw", server.passwords["rw"])
    time.sleep(0.2)
    assert " debug " not in server.log_text(after), server.log_text(after)
    assert " info " in server.log_text(after)


def test_host_keys_and_limits_are_reloaded(server, tmp_path):
    import paramiko

    def host_key() -> str:
        transport = paramiko.Transport((HOST, server.sftp_port))
        try:
            transport.start_client(timeout=10)
            return transport.get_remote_server_key().get_fingerprint().hex()
        finally:
            transport.close()

    before = host_key()
    new_key = tmp_path / "new_host_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(new_key)], check=True, timeout=30)
    text = server.config_path.read_text()
    start = text.index("host_keys = [")
    end = text.index("]", start) + 1
    text = text[:start] + f"host_keys = [{toml_str(str(new_key))}]" + text[end:]
    text = text.replace("max_connections_per_ip = 32", "max_connections_per_ip = 1", 1)
    assert "max_connections_per_ip = 1" in text
    server.config_path.write_text(text)
    applied, log = server.reload()
    assert applied, log
    after = host_key()
    assert after != before
    expected = subprocess.run(["ssh-keygen", "-l", "-E", "sha256", "-f", str(new_key)], capture_output=True, text=True).stdout.split()[1]
    assert expected in log, log  # the new key's fingerprint is logged
    # The per-address limit of 1 applies: one FTP session takes the one slot (once the SSH probe's
    # connection has been let go), a second is refused.
    sessions = []
    assert wait_for(lambda: _try_login(server, sessions), timeout=5)
    held = sessions[0]
    with pytest.raises(ftplib.error_temp):
        server.ftp("rw")
    assert held.pwd() == "/"
    held.quit()


def _try_login(server, sessions: list) -> bool:
    try:
        sessions.append(server.ftp("rw"))
        return True
    except ftplib.error_temp:
        return False


def test_a_running_session_follows_its_user_to_a_new_storage(server, tmp_path):
    running = server.ftp("carol", "carol-one")
    other_root = tmp_path / "other-root"
    moved = server.opts.users_toml.replace('home = "local:files/rw/carol"', 'home = "other:moved/carol"')
    assert moved != server.opts.users_toml
    server.rewrite_config(users_toml=moved,
                          extra_toml=server.opts.extra_toml + f'\n[[storage]]\nname = "other"\ndriver = "local"\nroot = {toml_str(str(other_root))}\n')
    applied, log = server.reload()
    assert applied, log
    # The storage did not exist when the session began; its next command finds it.
    running.storbinary("STOR after-move.txt", __import__("io").BytesIO(b"moved\n"))
    assert (other_root / "moved/carol/after-move.txt").read_bytes() == b"moved\n"
    assert not (server.root / "files/rw/carol/after-move.txt").exists()
    running.quit()
