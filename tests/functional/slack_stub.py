"""A real HTTP server on 127.0.0.1 (ephemeral port) that plays Slack for the delivery tests.

It serves an incoming-webhook path (`/services/T…/B…/…`) and the Web API methods the notifier
uses (`/api/chat.postMessage`, `/api/chat.update`). Every request is recorded with its body, headers
and arrival time (time.monotonic, or the FakeClock the test shares with the client). Answers are
scripted per request, in order; when the script is empty the stub answers like Slack does on success —
after checking the payload the way Slack does: one that is not valid Block Kit (tests.slack_kit,
slack_sdk's models) is refused with `invalid_blocks` (400 for a webhook, `{"ok": false}` for the Web
API), so no test delivers a message Slack would reject. Scripts: ok, 429 with Retry-After, 500,
404 no_service, 410, a Web API error, a hang longer than the client's timeout, or a slow drip (the
whole answer, status line included, one byte at a time: no single read ever waits long).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from tests.slack_kit import block_kit_errors

WEBHOOK_PATH = "/services/T0GATEWATCH/B0GATEWATCH/xyzSECRETwebhookTOKEN42"
POLL_INTERVAL_S = 0.01  # how often serve_forever looks for shutdown (the default 0.5 s is paid at every exit)


class FakeClock:
    """A monotonic clock that moves only when slept on: pass `monotonic` and `sleep` to SlackClient and
    `monotonic` to SlackStub, and waits (Retry-After, backoff, pacing) cost no real time but still show
    in the arrival times."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: str | None = None  # None: Slack's success body for the path
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0  # sleep before answering (a hang when longer than the client timeout)
    drip_s: float = 0.0  # send the answer one byte at a time, this long apart


OK = Answer()


def strings(value: Any) -> Iterator[str]:
    """Every string of a received JSON payload, keys included (what a responder could see or click)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)


def rate_limited(retry_after: int | str = 1) -> Answer:
    return Answer(429, "rate_limited", (("Retry-After", str(retry_after)),))


def server_error() -> Answer:
    return Answer(500, "internal_error")


def no_service() -> Answer:
    return Answer(404, "no_service")


def gone() -> Answer:
    return Answer(410, "channel_is_archived")


def hang(seconds: float) -> Answer:
    return Answer(200, None, (), seconds)


def drip(every_s: float) -> Answer:
    """Slack answering 200 ok, one byte every `every_s` seconds (a per-read timeout never trips)."""
    return Answer(200, "ok", (), 0.0, every_s)


def api_error(error: str) -> Answer:
    return Answer(200, json.dumps({"ok": False, "error": error}))


#: Where a posted message may link to: the AWS consoles (commercial, China, GovCloud) and Slack.
LINK_HOSTS = re.compile(
    r"[a-z]{2}(?:-[a-z]+){1,3}-[0-9]{1,2}\.console\.aws\.amazon\.com|console\.amazonaws\.cn"
    r"|console\.amazonaws-us-gov\.com|(?:[a-z0-9-]+\.)?slack(?:-gov)?\.com"
)
_MRKDWN_LINK = re.compile(r"<([a-zA-Z][a-zA-Z0-9+.-]*:[^|>]*)")


def link_urls(value: Any) -> Iterator[str]:
    """Every link target of a payload: `url` fields (buttons) and `<scheme:…|label>` links in text."""
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "url" and isinstance(v, str):
                yield v
            else:
                yield from link_urls(v)
    elif isinstance(value, list):
        for v in value:
            yield from link_urls(v)
    elif isinstance(value, str):
        yield from _MRKDWN_LINK.findall(value)


def foreign_links(value: Any) -> list[str]:
    """The link targets that are not https to an AWS console or Slack host."""
    out = []
    for url in link_urls(value):
        parts = urlsplit(url)
        if parts.scheme != "https" or not LINK_HOSTS.fullmatch(parts.hostname or "") or parts.port or parts.username:
            out.append(url)
    return out


@dataclass(frozen=True)
class Recorded:
    path: str
    body: bytes
    headers: dict[str, str]
    at: float  # the stub's clock on arrival

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class SlackStub:
    """Start with `with SlackStub() as slack:` (or `SlackStub(clock=fake.monotonic)`); script answers with
    `slack.script(...)`."""

    clock: Callable[[], float] = time.monotonic
    requests: list[Recorded] = field(default_factory=list)
    refusals: list[list[str]] = field(default_factory=list)  # why each refused payload was not valid Block Kit
    _answers: deque = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: threading.Event = field(default_factory=threading.Event)
    _ts: int = 0

    def __enter__(self) -> SlackStub:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                stub._record(Recorded(self.path, body, {k.lower(): v for k, v in self.headers.items()}, stub.clock()))
                answer = stub._next_answer()
                if answer == OK:
                    answer = stub._judge(self.path, body)
                if answer.delay_s:
                    time.sleep(answer.delay_s)
                text = answer.body if answer.body is not None else stub._success_body(self.path, body)
                data = text.encode()
                if answer.drip_s:
                    self._drip(answer, data)
                    return
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers:
                        self.send_header(name, value)
                    self.send_header("Content-Type", "application/json" if text.startswith("{") else "text/plain")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout): exactly what a hang is for

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _drip(self, answer: Answer, data: bytes) -> None:
                head = f"HTTP/1.1 {answer.status} {self.responses.get(answer.status, ('',))[0]}\r\n"
                head += "".join(f"{n}: {v}\r\n" for n, v in answer.headers)
                head += f"Content-Type: text/plain\r\nContent-Length: {len(data)}\r\n\r\n"
                self.close_connection = True
                for byte in head.encode() + data:
                    if stub._closing.wait(answer.drip_s):
                        return  # the stub is stopping: end the thread
                    try:
                        self.wfile.write(bytes([byte]))
                    except (BrokenPipeError, ConnectionResetError):
                        return  # the client gave up, as it should

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(POLL_INTERVAL_S,), daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def webhook_url(self) -> str:
        return self.base_url + WEBHOOK_PATH

    @property
    def api_base(self) -> str:
        return self.base_url + "/api/"

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._answers.extend(answers)

    def calls(self, path_suffix: str) -> list[Recorded]:
        return [r for r in self.requests if r.path.endswith(path_suffix)]

    def _record(self, rec: Recorded) -> None:
        with self._lock:
            self.requests.append(rec)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self._answers.popleft() if self._answers else OK

    def _judge(self, path: str, body: bytes) -> Answer:
        """OK, or Slack's refusal of a payload that is not valid Block Kit."""
        try:
            errors = block_kit_errors(json.loads(body))
        except (ValueError, AttributeError, TypeError) as exc:
            errors = [f"not a JSON object: {exc}"]
        if not errors:
            return OK
        with self._lock:
            self.refusals.append(errors)
        if path.startswith("/api/"):
            return Answer(200, json.dumps({"ok": False, "error": "invalid_blocks", "errors": errors}))
        return Answer(400, "invalid_blocks")

    def _success_body(self, path: str, body: bytes) -> str:
        if not path.startswith("/api/"):
            return "ok"
        try:
            sent = json.loads(body)
        except ValueError:
            return json.dumps({"ok": False, "error": "invalid_json"})
        if path.endswith("/chat.update"):
            return json.dumps({"ok": True, "channel": sent.get("channel"), "ts": sent.get("ts")})
        with self._lock:
            self._ts += 1
            ts = f"1764079200.{self._ts:06d}"
        return json.dumps({"ok": True, "channel": sent.get("channel"), "ts": ts, "message": {"ts": ts}})
