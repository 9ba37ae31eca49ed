"""A small fault-injecting HTTP/1.1 forwarding proxy for the S3 tests (standard library only).

Ferry's S3 storage points at the proxy (`endpoint = proxy.url`); the proxy forwards every request,
byte for byte, to the real S3 server. Requests are not re-signed: the Host header stays as Ferry
sent (and signed) it, so SigV4 still verifies upstream. Request bodies must have a Content-Length
(what Ferry sends); responses may use Content-Length, chunked encoding or end at close. Bodies are
streamed in both directions, never held whole in memory. Connections are kept alive on both sides.

Modes
- `pass`     forward everything.
- `faults`   fail a deterministic fraction of requests, counted per S3 operation (GetObject,
             UploadPart, ... see `operation`): request n of an operation fails when
             n % every == phase % every. The default every=5, phase=1 fails the first request of every
             operation, then every fifth (20 %), so retries are exercised everywhere, a retry never
             meets two faults in a row unless other requests of the same operation run in between,
             and the same run fails the same requests. Kinds (`fault=`):
               slowdown     503 with an S3 `SlowDown` error document (body drained, keep-alive)
               unavailable  503 with an S3 `ServiceUnavailable` error document
               reset        TCP reset (SO_LINGER 0) after the request head and half of its body
                            have been read; nothing is forwarded
               cut          GetObject: forwarded, then reset after half of the response body
                            (a broken download stream); any other operation: like `reset`
- `delay=`   (any mode) seconds added to every request before it is handled: a distant S3.
- `down`     `go_down()`: the listener is closed and every open connection is reset; new connections
             are refused. There is no way back (start a new proxy).

`stop()` (or leaving the `with` block) shuts everything down; the accept thread and the handler
threads are daemons and end with their sockets.
"""

from __future__ import annotations

import collections
import contextlib
import select
import socket
import struct
import threading
import time
import urllib.parse
from dataclasses import dataclass

FAULT_KINDS = ("slowdown", "unavailable", "reset", "cut")
_CHUNK = 256 * 1024
_MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The proxy met HTTP it does not handle (a bug in the proxy or an unexpected client)."""


@dataclass
class Record:
    """One request the proxy saw: its number, S3 operation, method, target and what happened."""
    n: int
    operation: str
    method: str
    target: str
    outcome: str          # "forwarded", "slowdown", "unavailable", "reset", "cut", "aborted: ..."
    status: int | None = None   # upstream status when forwarded (also for "cut")
    request_bytes: int = 0
    response_bytes: int = 0
    finished: bool = False

    def __str__(self):
        status = f" {self.status}" if self.status is not None else ""
        return (f"#{self.n} {self.operation:<24} {self.method} {self.target[:110]} -> {self.outcome}{status}"
                f" (up {self.request_bytes} B, down {self.response_bytes} B{'' if self.finished else ', unfinished'})")


def operation(method: str, target: str) -> str:
    """The S3 operation of a path-style request (what the fault counters are kept by)."""
    parsed = urllib.parse.urlsplit(target)
    query = urllib.parse.parse_qs(parsed.query, keep_blank_values=True)
    parts = parsed.path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if method == "GET":
        if "uploads" in query:
            return "ListMultipartUploads"
        if "uploadId" in query:
            return "ListParts"
        return "GetObject" if has_key else "ListObjects"
    if method == "HEAD":
        return "HeadObject" if has_key else "HeadBucket"
    if method == "PUT":
        if "partNumber" in query:
            return "UploadPart"  # UploadPartCopy too (it carries x-amz-copy-source)
        return "PutObject"       # CopyObject too
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload"
        if "uploadId" in query:
            return "CompleteMultipartUpload"
        if "delete" in query:
            return "DeleteObjects"
        return "POST"
    if method == "DELETE":
        return "AbortMultipartUpload" if "uploadId" in query else "DeleteObject"
    return method


def _error_document(code: str, message: str, resource: str, request_id: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<Resource>{resource}</Resource><RequestId>{request_id}</RequestId></Error>").encode()


def _reset(sock: socket.socket):
    """Closes with a TCP RST (SO_LINGER 0) instead of a FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()


class _Conn:
    """A socket with a read buffer: request/response heads, counted bodies, chunked bodies."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        chunk = self.sock.recv(_CHUNK)
        if not chunk:
            return False
        self.buf += chunk
        return True

    def read_head(self) -> bytes | None:
        """A message head including its blank line; None if the peer closed before sending one."""
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end >= 0:
                head = bytes(self.buf[:end + 4])
                del self.buf[:end + 4]
                return head
            if len(self.buf) > _MAX_HEAD:
                raise ProtocolError("message head larger than 64 KiB")
            if not self._fill():
                if self.buf:
                    raise ProtocolError(f"connection closed inside a message head: {bytes(self.buf[:200])!r}")
                return None

    def readline(self) -> bytes:
        while True:
            end = self.buf.find(b"\r\n")
            if end >= 0:
                line = bytes(self.buf[:end + 2])
                del self.buf[:end + 2]
                return line
            if not self._fill():
                raise ProtocolError("connection closed inside a chunked body")

    def relay(self, count: int, dst: socket.socket | None) -> int:
        """Moves exactly `count` body bytes to `dst` (None: discards them); returns the count."""
        left = count
        while left > 0:
            if not self.buf and not self._fill():
                raise ProtocolError(f"connection closed with {left} of {count} body bytes missing")
            take = min(left, len(self.buf))
            if dst is not None:
                dst.sendall(self.buf[:take])
            del self.buf[:take]
            left -= take
        return count

    def relay_chunked(self, dst: socket.socket) -> int:
        """Moves one chunked body (framing included, verbatim) to `dst`; returns the payload size."""
        total = 0
        while True:
            line = self.readline()
            dst.sendall(line)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size line {line!r}") from None
            if size == 0:
                while True:  # trailers, up to the blank line
                    trailer = self.readline()
                    dst.sendall(trailer)
                    if trailer == b"\r\n":
                        return total
            self.relay(size + 2, dst)
            total += size

    def relay_to_eof(self, dst: socket.socket) -> int:
        total = 0
        while True:
            if not self.buf and not self._fill():
                return total
            total += len(self.buf)
            dst.sendall(self.buf)
            self.buf.clear()


def _parse_head(head: bytes) -> tuple[str, dict[str, str]]:
    lines = head.decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(":")
        if not sep:
            raise ProtocolError(f"bad header line {line!r}")
        name = name.strip().lower()
        value = value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return lines[0], headers


def _content_length(headers: dict[str, str]) -> int | None:
    if "content-length" not in headers:
        return None
    try:
        return int(headers["content-length"])
    except ValueError:
        raise ProtocolError(f"bad Content-Length {headers['content-length']!r}") from None


def _wants_close(headers: dict[str, str]) -> bool:
    return "close" in headers.get("connection", "").lower()


class FaultProxy:
    """The proxy; see the module documentation. `url` is what Ferry's `endpoint` should be."""

    def __init__(self, upstream: str, port: int, host: str = "127.0.0.1", mode: str = "pass",
                 fault: str = "slowdown", every: int = 5, phase: int = 1, delay: float = 0.0):
        parsed = urllib.parse.urlsplit(upstream)
        if parsed.scheme != "http" or not parsed.hostname:
            raise ValueError(f"upstream must be an http:// URL, not {upstream!r}")
        if mode not in ("pass", "faults"):
            raise ValueError(f"mode must be 'pass' or 'faults', not {mode!r}")
        if fault not in FAULT_KINDS:
            raise ValueError(f"fault must be one of {FAULT_KINDS}, not {fault!r}")
        self.upstream = (parsed.hostname, parsed.port or 80)
        self.host = host
        self.port = port
        self.mode = mode
        self.fault = fault
        self.every = every
        self.phase = phase
        self.delay = delay  # seconds added before each request is answered (a distant S3)
        self.records: list[Record] = []
        self.errors: list[str] = []        # proxy-side problems (ProtocolError and the like)
        self._lock = threading.Lock()
        self._per_operation: collections.Counter[str] = collections.Counter()
        self._sockets: set[socket.socket] = set()
        self._down = threading.Event()
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> "FaultProxy":
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((self.host, self.port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        listener.settimeout(0.2)
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name=f"faultproxy:{self.port}", daemon=True)
        self._thread.start()
        return self

    def go_down(self):
        """S3 "stops": no more connections accepted, every open one reset."""
        self._down.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            # SO_LINGER 0 first, so that the close that follows (by the thread that owns the socket,
            # woken by the shutdown) resets instead of finishing politely.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def stop(self):
        self.go_down()

    @property
    def is_down(self) -> bool:
        return self._down.is_set()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # -- what happened ----------------------------------------------------------------------

    def snapshot(self) -> list[Record]:
        with self._lock:
            return list(self.records)

    def faults(self) -> list[Record]:
        return [r for r in self.snapshot() if r.outcome in FAULT_KINDS]

    def faulted_operations(self) -> collections.Counter[str]:
        return collections.Counter(r.operation for r in self.faults())

    def completed(self, operation_name: str, status: int = 200) -> list[Record]:
        """Requests of an operation forwarded and answered completely with `status`."""
        return [r for r in self.snapshot()
                if r.operation == operation_name and r.outcome == "forwarded" and r.status == status and r.finished]

    def summary(self, limit: int = 200) -> str:
        records = self.snapshot()
        lines = [f"fault proxy {self.url} -> {self.upstream[0]}:{self.upstream[1]}: mode={self.mode} "
                 f"fault={self.fault} every={self.every} phase={self.phase} down={self.is_down}; "
                 f"{len(records)} requests, faults by operation: {dict(self.faulted_operations())}"]
        lines += [f"proxy error: {e}" for e in self.errors]
        if len(records) > limit:
            lines.append(f"[... {len(records) - limit} earlier requests ...]")
        lines += [str(r) for r in records[-limit:]]
        return "\n".join(lines)

    # -- internals --------------------------------------------------------------------------

    def _track(self, sock: socket.socket) -> bool:
        with self._lock:
            if self._down.is_set():
                return False
            self._sockets.add(sock)
            return True

    def _untrack(self, sock: socket.socket):
        with self._lock:
            self._sockets.discard(sock)

    def _accept_loop(self):
        listener = self._listener
        try:
            while not self._down.is_set():
                try:
                    client, _ = listener.accept()
                except (socket.timeout, TimeoutError):
                    continue
                except OSError:
                    break
                client.settimeout(None)
                client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                if not self._track(client):
                    _reset(client)
                    break
                threading.Thread(target=self._handle, args=(client,), name="faultproxy-conn", daemon=True).start()
        finally:
            listener.close()

    def _decide(self, method: str, target: str) -> tuple[int, str, str | None]:
        """Numbers the request and decides its fate: (n, operation, fault kind or None). With `delay`,
        every request waits that long first, as if S3 were far away."""
        if self.delay:
            time.sleep(self.delay)
        op = operation(method, target)
        with self._lock:
            n = len(self.records) + 1
            self._per_operation[op] += 1
            count = self._per_operation[op]
        fault = None
        if self.mode == "faults" and count % self.every == self.phase % self.every:
            fault = self.fault
            if fault == "cut" and op != "GetObject":
                fault = "reset"
        return n, op, fault

    def _add(self, record: Record):
        with self._lock:
            self.records.append(record)

    def _connect_upstream(self) -> socket.socket:
        sock = socket.create_connection(self.upstream, timeout=30)
        sock.settimeout(None)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if not self._track(sock):
            _reset(sock)
            raise ConnectionAbortedError("proxy is down")
        return sock

    @staticmethod
    def _closed_by_peer(sock: socket.socket) -> bool:
        """True if an idle keep-alive connection was closed by the other side."""
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        try:
            return sock.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _handle(self, client_sock: socket.socket):
        client = _Conn(client_sock)
        upstream: _Conn | None = None
        record: Record | None = None
        try:
            while not self._down.is_set():
                head = client.read_head()
                if head is None:
                    return
                request_line, headers = _parse_head(head)
                try:
                    method, target, _version = request_line.split(" ", 2)
                except ValueError:
                    raise ProtocolError(f"bad request line {request_line!r}") from None
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    raise ProtocolError(f"{method} {target}: chunked request bodies are not supported")
                length = _content_length(headers) or 0
                n, op, fault = self._decide(method, target)
                record = Record(n, op, method, target, outcome=fault or "forwarded")
                self._add(record)

                if fault == "reset":
                    # Mid-request: half of the body (if any) is read first, so that the client has
                    # really sent part of it when the connection breaks.
                    record.request_bytes = client.relay(length // 2, None)
                    _reset(client_sock)
                    record.finished = True
                    return
                if fault in ("slowdown", "unavailable"):
                    record.request_bytes = client.relay(length, None)
                    code, reason, message = (("SlowDown", "Slow Down", "Please reduce your request rate.")
                                             if fault == "slowdown" else
                                             ("ServiceUnavailable", "Service Unavailable", "Service is unable to handle request."))
                    body = _error_document(code, message, urllib.parse.urlsplit(target).path, f"faultproxy-{n}")
                    if method == "HEAD":
                        body = b""
                    response = (f"HTTP/1.1 503 {reason}\r\nContent-Type: application/xml\r\n"
                                f"Content-Length: {len(body)}\r\nx-amz-request-id: faultproxy-{n}\r\n"
                                f"Server: faultproxy\r\n\r\n").encode() + body
                    client_sock.sendall(response)
                    record.status = 503
                    record.response_bytes = len(body)
                    record.finished = True
                    if _wants_close(headers):
                        return
                    continue

                # Forward.
                if upstream is not None and self._closed_by_peer(upstream.sock):
                    self._untrack(upstream.sock)
                    upstream.sock.close()
                    upstream = None
                if upstream is None:
                    upstream = _Conn(self._connect_upstream())
                upstream.sock.sendall(head)
                # With `Expect: 100-continue` the client waits for the interim answer before the body.
                body_pending = length > 0
                if not ("100-continue" in headers.get("expect", "").lower() and body_pending):
                    record.request_bytes = client.relay(length, upstream.sock)
                    body_pending = False
                while True:
                    response_head = upstream.read_head()
                    if response_head is None:
                        raise ProtocolError(f"{method} {target}: upstream closed without an answer")
                    status_line, response_headers = _parse_head(response_head)
                    try:
                        status = int(status_line.split(" ", 2)[1])
                    except (IndexError, ValueError):
                        raise ProtocolError(f"bad status line {status_line!r}") from None
                    if 100 <= status < 200:
                        client_sock.sendall(response_head)  # 100 Continue and friends
                        if status == 100 and body_pending:
                            record.request_bytes = client.relay(length, upstream.sock)
                            body_pending = False
                        continue
                    break
                record.status = status
                # A final answer instead of 100 Continue: the body was never read; the connection
                # cannot be reused.
                close_after = body_pending or _wants_close(headers) or _wants_close(response_headers)
                response_length = _content_length(response_headers)
                if method == "HEAD" or status in (204, 304):
                    client_sock.sendall(response_head)
                elif "chunked" in response_headers.get("transfer-encoding", "").lower():
                    client_sock.sendall(response_head)
                    record.response_bytes = upstream.relay_chunked(client_sock)
                elif response_length is not None:
                    if fault == "cut" and response_length > 1:
                        half = response_length // 2
                        client_sock.sendall(response_head)
                        record.response_bytes = upstream.relay(half, client_sock)
                        _reset(client_sock)
                        record.finished = True
                        return
                    client_sock.sendall(response_head)
                    record.response_bytes = upstream.relay(response_length, client_sock)
                else:
                    client_sock.sendall(response_head)
                    record.response_bytes = upstream.relay_to_eof(client_sock)
                    close_after = True
                if fault == "cut":  # nothing to cut in this answer: reset at its end instead
                    _reset(client_sock)
                    record.finished = True
                    return
                record.finished = True
                if close_after:
                    return
        except ProtocolError as exc:
            self.errors.append(str(exc))
            _reset(client_sock)
        except OSError as exc:
            if record is not None and not record.finished:
                record.outcome = f"aborted: {exc.__class__.__name__}"
        finally:
            self._untrack(client_sock)
            with contextlib.suppress(OSError):
                client_sock.close()
            if upstream is not None:
                self._untrack(upstream.sock)
                with contextlib.suppress(OSError):
                    upstream.sock.close()

