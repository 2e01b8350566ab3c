"""A local HTTP server that speaks enough of the Slack Web API for the real slack_sdk client.

`WebClient(base_url=fake.base_url)` posts chat.postMessage here, and files_upload_v2's three
steps: files.getUploadURLExternal (answers with an upload URL on this server), the upload of
the bytes to that URL, and files.completeUploadExternal. The server records every request
(headers, body, the raw bytes of an upload) and answers each method from its own script of
replies, then with a default (success).
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

TOKEN = "xoxb-1111-2222-SecretTokenValue"
OK = {"ok": True, "channel": "C0FAKE", "ts": "1700000000.000100"}


@dataclass
class Reply:
    """One scripted answer: a JSON body (dict) or raw text (str), with status and headers."""

    status: int = 200
    body: dict[str, Any] | str = field(default_factory=lambda: dict(OK))
    headers: dict[str, str] = field(default_factory=dict)


POST_MESSAGE = "chat.postMessage"
GET_UPLOAD_URL = "files.getUploadURLExternal"
UPLOAD = "upload"  # the upload URL files.getUploadURLExternal hands out (not a Web API method)
COMPLETE_UPLOAD = "files.completeUploadExternal"


@dataclass
class Request:
    path: str  # without the query string, whose parameters are in `body`
    headers: dict[str, str]
    body: dict[str, Any]
    raw: bytes = b""

    @property
    def method(self) -> str:
        if self.path.startswith("/upload/"):
            return UPLOAD
        return self.path.removeprefix("/api/")


class FakeSlack:
    """A threaded Slack Web API stand-in on 127.0.0.1 with scripted replies."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()  # chat.postMessage's script
        self.scripts: dict[str, deque[Reply]] = {POST_MESSAGE: self.replies}
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

    def script(self, *replies: Reply, method: str = POST_MESSAGE) -> None:
        self.scripts.setdefault(method, deque()).extend(replies)

    def posted(self) -> list[Request]:
        return self.calls(POST_MESSAGE)

    def calls(self, method: str) -> list[Request]:
        return [r for r in self.requests if r.method == method]

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
            script = self.scripts.get(request.method)
            if script:
                return script.popleft()
            if request.method == POST_MESSAGE:
                return self.default
            if request.method == GET_UPLOAD_URL:
                file_id = f"F{len(self.calls(GET_UPLOAD_URL)):04d}"
                root = self.base_url.removesuffix("/api/")
                return Reply(body={"ok": True, "file_id": file_id,
                                   "upload_url": f"{root}/upload/{file_id}"})
            if request.method == UPLOAD:
                return Reply(body=f"OK - {len(request.raw)}")
            if request.method == COMPLETE_UPLOAD:
                files = json.loads(request.body.get("files") or "[]")
                return Reply(body={"ok": True, "files": [
                    {"id": f["id"], "title": f.get("title")} for f in files]})
            return Reply(404, {"ok": False, "error": "unknown_method"})


def _handler_for(fake: FakeSlack) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            url = urlsplit(self.path)
            uploading = url.path.startswith("/upload/")
            body = {} if uploading else _parse(raw.decode("utf-8"))
            body |= dict(parse_qsl(url.query))
            reply = fake.answer(Request(url.path, dict(self.headers.items()), body,
                                        raw if uploading else b""))
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
