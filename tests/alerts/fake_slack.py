"""A local HTTP server that speaks enough of the Slack Web API for the real slack_sdk client.

`WebClient(base_url=fake.base_url)` posts chat.postMessage here. The server records every
request (headers and JSON body) and answers from a script of replies, then with `default`.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

TOKEN = "xoxb-1111-2222-SecretTokenValue"
OK = {"ok": True, "channel": "C0FAKE", "ts": "1700000000.000100"}


@dataclass
class Reply:
    """One scripted answer: a JSON body (dict) or raw text (str), with status and headers."""

    status: int = 200
    body: dict[str, Any] | str = field(default_factory=lambda: dict(OK))
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


class FakeSlack:
    """A threaded Slack Web API stand-in on 127.0.0.1 with scripted replies."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.default = Reply()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        # A short poll interval: shutdown() waits for it, once per test.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    def script(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def posted(self) -> list[Request]:
        return [r for r in self.requests if r.path == "/api/chat.postMessage"]

    def start(self) -> FakeSlack:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, request: Request) -> Reply:
        with self._lock:
            self.requests.append(request)
            if request.path != "/api/chat.postMessage":
                return Reply(404, {"ok": False, "error": "unknown_method"})
            return self.replies.popleft() if self.replies else self.default


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8")
            reply = fake.answer(Request(self.path, dict(self.headers.items()), _parse(raw)))
            payload = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
            content_type = "text/html" if isinstance(reply.body, str) else "application/json"
            data = payload.encode("utf-8")
            self.send_response(reply.status)
            self.send_header("Content-Type", f"{content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:  # keep pytest output clean
            pass

    return Handler


def _parse(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        return json.loads(raw)
    except ValueError:
        return dict(parse_qsl(raw))
