"""One HTTP POST that ends by a deadline: connect, TLS handshake, send and every read share it.

Why not urllib's `timeout`: it is a per-socket-operation timeout. A server that trickles its answer
one byte every two seconds never lets a single read wait five seconds, so a "5 s timeout" request
can run for minutes — longer than the Lambda. Here each socket operation is given only what is left
of one deadline, so the whole request ends within `timeout` seconds, and the caller can keep one
deadline across its retries.

Name resolution counts too: getaddrinfo cannot be interrupted or given a timeout, so a host name is
resolved in a daemon thread that the request waits for only until the deadline (a hung resolver costs
the thread until the resolver itself gives up, never the delivery). No proxy support (Lambda needs
none). Standard library only.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import urlsplit

MAX_BODY = 65536


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: str


def post(url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> HttpResponse:
    """POST `body` and read the answer (at most 64 KB of it) within `timeout` seconds in all.

    Connection failures and the deadline raise OSError (TimeoutError for the deadline); any HTTP status
    is an answer. No error text carries the URL (webhook URLs are credentials).
    """
    deadline = time.monotonic() + timeout
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise OSError(f"not an http(s) URL (scheme {parts.scheme!r})")
    tls = _tls_context() if parts.scheme == "https" else None
    conn = _DeadlineConnection(parts.hostname, parts.port, deadline=deadline, tls=tls)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        conn.request("POST", path, body=body, headers=dict(headers))
        response = conn.getresponse()
        try:
            return HttpResponse(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(MAX_BODY).decode("utf-8", "replace"),
            )
        finally:
            response.close()
    finally:
        conn.close()


@cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()  # loading the CA bundle costs milliseconds: once per process


def time_left(deadline: float) -> float:
    """Seconds until `deadline` (time.monotonic); TimeoutError when it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request's deadline passed")
    return left


class _DeadlineConnection(http.client.HTTPConnection):
    """An HTTP(S) connection whose socket operations all end by one deadline."""

    def __init__(self, host: str, port: int | None, *, deadline: float, tls: ssl.SSLContext | None) -> None:
        super().__init__(host, port or (443 if tls else 80), timeout=time_left(deadline))
        self.default_port = 443 if tls else 80  # so the Host header carries no explicit default port
        self.deadline = deadline
        self.tls = tls

    def connect(self) -> None:
        sock = _open_socket(self.host, self.port, self.deadline)
        try:
            if self.tls is not None:
                sock.settimeout(time_left(self.deadline))  # the handshake's total, not per read
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise
        self.sock = _DeadlineSocket(sock, self.deadline)  # duck-typed: what http.client uses of a socket


def _open_socket(host: str, port: int, deadline: float) -> socket.socket:
    """A TCP connection to the first address that answers before the deadline."""
    last: OSError = OSError("no address to connect to")
    for family, kind, proto, _name, address in resolve(host, port, deadline):
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(time_left(deadline))
            sock.connect(address)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            last = exc
    raise last


AddressInfo = tuple[socket.AddressFamily, socket.SocketKind, int, str, Any]


def resolve(host: str, port: int, deadline: float) -> Sequence[AddressInfo]:
    """getaddrinfo for a TCP connection, finished before `deadline` or TimeoutError.

    An IP address needs no resolver and is read at once; a name is resolved in a daemon thread.
    """
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    outcome: list[Sequence[AddressInfo] | OSError] = []
    done = threading.Event()

    def lookup() -> None:
        try:
            outcome.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:  # socket.gaierror: no such name, no network
            outcome.append(exc)
        except Exception as exc:  # e.g. UnicodeError for a label too long to encode
            outcome.append(OSError(f"cannot resolve the host name ({type(exc).__name__})"))
        finally:
            done.set()

    threading.Thread(target=lookup, name="gatewatch-resolve", daemon=True).start()
    if not done.wait(time_left(deadline)):
        raise TimeoutError("the host name was not resolved before the request's deadline")
    result = outcome[0]
    if isinstance(result, OSError):
        raise result
    return result


class _DeadlineSocket:
    """What http.client uses of a socket (sendall, makefile, close), each bounded by the deadline.

    Like a real socket, closing it while a reader from makefile() is open defers the close until that
    reader is closed (http.client closes the connection before the response body is read)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline
        self._readers = 0
        self._closed = False

    def sendall(self, data: Any) -> None:
        self._sock.settimeout(time_left(self._deadline))  # sendall's timeout is its total (Python ≥ 3.5)
        self._sock.sendall(data)

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        self._readers += 1
        return io.BufferedReader(_DeadlineReader(self))

    def recv_into(self, buffer: Any) -> int:
        self._sock.settimeout(time_left(self._deadline))
        return self._sock.recv_into(buffer)

    def close(self) -> None:
        self._closed = True
        self._close_when_unused()

    def release(self) -> None:
        """A reader from makefile() was closed."""
        self._readers -= 1
        self._close_when_unused()

    def _close_when_unused(self) -> None:
        if self._closed and self._readers <= 0:
            self._sock.close()

    def __getattr__(self, name: str) -> Any:  # anything else a future http.client may use: the socket's own
        return getattr(self._sock, name)


class _DeadlineReader(io.RawIOBase):
    """The raw stream under a makefile() reader: each read waits at most until the deadline."""

    def __init__(self, owner: _DeadlineSocket) -> None:
        self._owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        return self._owner.recv_into(buffer)

    def close(self) -> None:
        if not self.closed:
            self._owner.release()
        super().close()


__all__ = ["MAX_BODY", "HttpResponse", "post", "resolve", "time_left"]
