"""PROXY protocol v1 and v2 (issue 12, part 1), with headers written by hand so that every edge case
can be sent: connections from `[proxy_protocol] from` (here 127.0.0.2, the "balancer") must start with
a header, and the client it names is the client everywhere (logs, xferlog, bans, the data-connection
check); connections from anywhere else are never parsed for one. HAProxy itself is in test_fleet.py."""

from __future__ import annotations

import re
import socket
import struct
import time

import pytest

from conftest import HOST, RawFTP, parse_pasv_port, wait_for
from sshsupport import paramiko_sftp

BALANCER = "127.0.0.2"  # the trusted source; the harness's own connections come from 127.0.0.1
V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(client: str, client_port: int = 40000, server_port: int = 21) -> bytes:
    family = "TCP6" if ":" in client else "TCP4"
    destination = "::1" if family == "TCP6" else "127.0.0.1"
    return f"PROXY {family} {client} {destination} {client_port} {server_port}\r\n".encode()


def v2(client: str, client_port: int = 40000, server_port: int = 21, *, command: int = 1, tlvs: bytes = b"") -> bytes:
    if command == 0:
        return V2_SIGNATURE + bytes([0x20, 0x00]) + struct.pack(">H", len(tlvs)) + tlvs
    body = socket.inet_aton(client) + socket.inet_aton("127.0.0.1") + struct.pack(">HH", client_port, server_port) + tlvs
    return V2_SIGNATURE + bytes([0x21, 0x11]) + struct.pack(">H", len(body)) + body


@pytest.fixture(scope="module")
def server(ferry_module_factory):
    return ferry_module_factory(
        extra_toml=f'[proxy_protocol]\nfrom = ["{BALANCER}/32"]\nheader_timeout = "1s"\n',
        # PASV announces 127.0.0.3 by default, 127.0.0.1 to clients in 192.0.2.0/24 (part 2).
        ftp_toml='masquerade_address = "127.0.0.3"\n'
                 'passive_address_overrides = [{ networks = ["192.0.2.0/24"], address = "localhost" }]',
        max_login_failures=3)


def through_balancer(server, header: bytes, port: int | None = None) -> RawFTP:
    """A control connection from the balancer's address that starts with `header`."""
    raw = RawFTP(port or server.port, source=BALANCER)
    raw.sock.sendall(header)
    return raw


def passive_data(server, raw: RawFTP, header: bytes | None) -> socket.socket:
    code, text = raw.cmd("PASV")
    assert code == 227, text
    data = socket.create_connection((HOST, parse_pasv_port(text)), timeout=10, source_address=(BALANCER, 0))
    if header is not None:
        data.sendall(header)
    return data


def log_since(server, offset: int, pattern: str, timeout: float = 5) -> str:
    found = {}

    def seen():
        text = server.log_text(offset)
        match = re.search(pattern, text)
        if match:
            found["line"] = text[text.rfind("\n", 0, match.start()) + 1:text.find("\n", match.end())]
        return match is not None

    assert wait_for(seen, timeout=timeout), f"no log line matching {pattern!r} in:\n{server.log_text(offset)[-3000:]}"
    return found["line"]


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_header_names_the_client_for_login_transfer_and_xferlog(server, version):
    client = "192.0.2.7" if version == "v1" else "198.51.100.23"
    make = v1 if version == "v1" else v2
    offset = server.log_size()
    with through_balancer(server, make(client, 51234)) as raw:
        assert raw.reply()[0] == 220
        raw.login("rw", server.passwords["rw"])
        # The passive data connection comes through the balancer too, with its own header.
        data = passive_data(server, raw, make(client, 51235))
        code, text = raw.cmd(f"STOR proxied-{version}.txt")
        assert code == 150, text
        data.sendall(b"through the balancer\n")
        data.close()
        assert raw.reply()[0] == 226
        raw.cmd("QUIT")
    assert (server.home("rw") / f"proxied-{version}.txt").read_bytes() == b"through the balancer\n"
    line = log_since(server, offset, r"login succeeded")
    assert client in line and BALANCER not in line, line
    assert any(client in entry and f"proxied-{version}.txt" in entry for entry in server.xferlog_lines()), server.xferlog_lines()[-3:]


def test_pasv_announces_the_address_for_the_client_network(server):
    for client, announced in [("192.0.2.30", "127,0,0,1"), ("198.51.100.30", "127,0,0,3")]:
        with through_balancer(server, v1(client)) as raw:
            assert raw.reply()[0] == 220
            raw.login("rw", server.passwords["rw"])
            code, text = raw.cmd("PASV")
            assert code == 227 and f"({announced}," in text, (client, text)
            code, text = raw.cmd("EPSV")  # EPSV names no address and keeps working
            assert code == 229, text
    with RawFTP(server.port) as raw:  # a direct client: 127.0.0.1 is not in an override's networks
        assert raw.reply()[0] == 220
        raw.login("rw", server.passwords["rw"])
        assert "(127,0,0,3," in raw.cmd("PASV")[1]


def test_data_connection_naming_another_client_is_refused(server):
    offset = server.log_size()
    with through_balancer(server, v2("192.0.2.10")) as raw:
        assert raw.reply()[0] == 220
        raw.login("rw", server.passwords["rw"])
        code, text = raw.cmd("PASV")
        assert code == 227, text
        port = parse_pasv_port(text)
        raw.send("NLST")
        # Another client (per its header) takes the passive port first: refused like a foreign address.
        intruder = socket.create_connection((HOST, port), timeout=10, source_address=(BALANCER, 0))
        intruder.sendall(v2("192.0.2.99"))
        intruder.settimeout(5)
        assert intruder.recv(100) == b""  # closed without data
        intruder.close()
        log_since(server, offset, r"refused a data connection from a foreign address.*192\.0\.2\.99")
        # The client itself still gets its listing on the same port.
        data = socket.create_connection((HOST, port), timeout=10, source_address=(BALANCER, 0))
        data.sendall(v2("192.0.2.10"))
        assert raw.reply()[0] == 150
        data.settimeout(10)
        while data.recv(65536):
            pass
        data.close()
        assert raw.reply()[0] == 226


@pytest.mark.parametrize("case,payload,log", [
    ("missing", b"USER rw\r\n", r"refused a connection: no PROXY header"),
    ("truncated v1", b"PROXY TCP4 192.0.2.7 127.0", r"refused a connection: no complete PROXY header in time"),
    ("truncated v2", V2_SIGNATURE + b"\x21\x11\x00\x0c\xc0\x00", r"refused a connection: no complete PROXY header in time"),
    ("oversized v1", b"PROXY TCP4 " + b"1" * 120 + b"\r\n", r"refused a connection: PROXY header too long"),
    ("oversized v2", V2_SIGNATURE + b"\x21\x11\xff\xff" + b"\x00" * 64, r"refused a connection: PROXY header too long"),
    ("malformed v1", b"PROXY TCP4 192.0.2.7 127.0.0.1 99999 21\r\n", r"refused a connection: malformed PROXY header"),
    ("malformed v2", V2_SIGNATURE + b"\x31\x11\x00\x00", r"refused a connection: malformed PROXY header"),
])
def test_bad_headers_close_the_connection_and_are_logged(server, case, payload, log):
    offset = server.log_size()
    started = time.monotonic()
    with RawFTP(server.port, source=BALANCER) as raw:
        raw.sock.sendall(payload)
        assert raw.at_eof(timeout=5), f"{case}: the connection stayed open"
        assert b"220" not in raw.buf
    assert time.monotonic() - started < 4.5
    line = log_since(server, offset, log)
    assert BALANCER in line, line


def test_v2_local_health_check_is_closed_quietly(server):
    offset = server.log_size()
    with through_balancer(server, v2("0.0.0.0", command=0)) as raw:
        assert raw.at_eof(timeout=5)
        assert raw.buf == b"", "a health check got a greeting"
    log_since(server, offset, r"balancer health check closed")
    assert "refused" not in server.log_text(offset)


def test_header_from_an_untrusted_address_is_refused_never_believed(server):
    offset = server.log_size()
    with RawFTP(server.port) as raw:  # from 127.0.0.1: not the balancer
        assert raw.reply()[0] == 220
        code, text = raw.cmd(v1("192.0.2.50").rstrip(b"\r\n"))
        assert code == 421, text
        assert raw.at_eof(timeout=5)
    line = log_since(server, offset, r"refused a PROXY header from an address that is not a trusted balancer")
    assert "client=192.0.2.50" not in server.log_text(offset)  # only the debug line of the command names it
    assert "client=127.0.0.1" in line


def test_bans_and_limits_apply_to_the_named_client(server):
    attacker, neighbour = "192.0.2.66", "192.0.2.67"
    for attempt in range(3):
        with through_balancer(server, v2(attacker, 41000 + attempt)) as raw:
            assert raw.reply()[0] == 220
            assert raw.cmd("USER rw")[0] == 331
            assert raw.cmd("PASS wrong")[0] == 530
    with through_balancer(server, v2(attacker, 41010)) as raw:
        code, text = raw.reply()
        assert code == 421 and "failed logins" in text, text
    # Neither the balancer nor another client behind it is banned.
    with through_balancer(server, v1(neighbour)) as raw:
        assert raw.reply()[0] == 220
        raw.login("rw", server.passwords["rw"])
    with RawFTP(server.port) as raw:
        assert raw.reply()[0] == 220


def test_sftp_through_a_header(server):
    offset = server.log_size()
    sock = socket.create_connection((HOST, server.sftp_port), timeout=10, source_address=(BALANCER, 0))
    sock.sendall(v2("203.0.113.44", 52000, 22))
    client = paramiko_sftp(server.sftp_port, "rw", password=server.passwords["rw"], sock=sock)
    try:
        with client.open("sftp-proxied.txt", "wb") as f:
            f.write(b"over ssh\n")
        assert client.stat("sftp-proxied.txt").st_size == 9
    finally:
        client.close()
        client.get_channel().get_transport().close()
    line = log_since(server, offset, r"login succeeded")
    assert "203.0.113.44" in line and BALANCER not in line, line
    # Without a header from the balancer: closed before the SSH exchange.
    with socket.create_connection((HOST, server.sftp_port), timeout=10, source_address=(BALANCER, 0)) as bare:
        bare.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")
        bare.settimeout(5)
        try:
            answer = bare.recv(100)
        except ConnectionResetError:  # closed with our banner unread
            answer = b""
        assert answer == b""
    log_since(server, offset, r"refused a connection: no PROXY header.*service=sftp")


def test_implicit_ftps_behind_a_header(ferry_factory, tls_cert):
    from conftest import client_tls_context, tls_toml

    server = ferry_factory(implicit_tls=True, sftp=False,
                           extra_toml=tls_toml(tls_cert) + f'\n[proxy_protocol]\nfrom = ["{BALANCER}/32"]\n')
    offset = server.log_size()
    raw = socket.create_connection((HOST, server.implicit_port), timeout=10, source_address=(BALANCER, 0))
    raw.sendall(v2("192.0.2.99", 50000, 990))
    with client_tls_context().wrap_socket(raw) as tls:  # TLS starts right after the header
        reader = tls.makefile("rb")
        assert reader.readline().startswith(b"220")
        tls.sendall(b"USER rw\r\n")
        assert reader.readline().startswith(b"331")
        tls.sendall(f"PASS {server.passwords['rw']}\r\n".encode())
        assert reader.readline().startswith(b"230")
    line = log_since(server, offset, r"login succeeded")
    assert "client=192.0.2.99" in line, line


def test_per_address_limit_applies_to_the_named_client(ferry_factory):
    server = ferry_factory(sftp=False, max_connections_per_ip=1,
                           extra_toml=f'[proxy_protocol]\nfrom = ["{BALANCER}/32"]\n')
    with through_balancer(server, v1("192.0.2.71")) as first:
        assert first.reply()[0] == 220
        with through_balancer(server, v1("192.0.2.71", 40001)) as second:
            code, text = second.reply()
            assert code == 421 and "from your address" in text, text
        # Another client behind the same balancer has its own allowance.
        with through_balancer(server, v2("192.0.2.72")) as other:
            assert other.reply()[0] == 220


def test_listener_groups_can_trust_differently(ferry_factory):
    # FTP behind the balancer, SFTP reached directly from the same address.
    server = ferry_factory(extra_toml=f'[proxy_protocol]\nfrom = ["{BALANCER}/32"]\nsftp_from = []\n')
    with through_balancer(server, v1("192.0.2.80")) as raw:
        assert raw.reply()[0] == 220
    with socket.create_connection((HOST, server.sftp_port), timeout=10, source_address=(BALANCER, 0)) as direct:
        direct.settimeout(10)
        assert direct.recv(64).startswith(b"SSH-2.0-"), "SFTP from the balancer's address wanted a header"
    with RawFTP(server.port, source=BALANCER) as bare:  # FTP from there still needs one
        bare.sock.sendall(b"USER rw\r\n")
        assert bare.at_eof(timeout=5)
