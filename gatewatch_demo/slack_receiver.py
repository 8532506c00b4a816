"""A loopback HTTP server that plays a Slack incoming webhook: it records every message it is sent."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WEBHOOK_PATH = "/services/T0DEMO/B0DEMO/gatewatchdemowebhook"
HOST = "127.0.0.1"  # loopback only: the demo's Slack never leaves the machine


@dataclass(frozen=True)
class ReceivedMessage:
    path: str
    received_at: float
    payload: dict[str, Any]


class SlackReceiver:
    """`with SlackReceiver() as slack:` -> slack.webhook_url on 127.0.0.1, slack.messages as they arrive."""

    def __init__(self) -> None:
        self.messages: list[ReceivedMessage] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                try:
                    payload = json.loads(body or b"{}")
                except ValueError:
                    payload = {"_unreadable": body[:200].decode("utf-8", "replace")}
                with receiver._lock:
                    receiver.messages.append(ReceivedMessage(self.path, time.time(), payload))
                data = b"ok"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # keep the demo's terminal clean
                return

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, name="slack-receiver", daemon=True)

    @property
    def webhook_url(self) -> str:
        return f"http://{HOST}:{self._server.server_port}{WEBHOOK_PATH}"

    def __enter__(self) -> SlackReceiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()
