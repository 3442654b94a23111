"""A webhook on 127.0.0.1 that answers as Slack's incoming webhooks do, limits included."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_BLOCKS = 50
MAX_SECTION_CHARS = 3000


class SlackLike:
    def __init__(self) -> None:
        self.posts: list[dict[str, Any]] = []  # every message it accepted
        self.attempts = 0
        # What to answer next: each entry an HTTP status, or "hang" (no answer); then Slack's own checks
        self.script: list[int | str] = []


def slack_refusal(message: dict[str, Any]) -> str | None:
    """Slack's answer to a message it refuses, or None."""
    blocks = message.get("blocks")
    if blocks is not None:
        if len(blocks) > MAX_BLOCKS:
            return "invalid_blocks: more than 50 blocks"
        for block in blocks:
            text = (block.get("text") or {}).get("text", "")
            if block.get("type") == "section" and len(text) > MAX_SECTION_CHARS:
                return "invalid_blocks: section text longer than 3000 characters"
    elif not message.get("text"):
        return "no_text"
    return None


@contextmanager
def slack_webhook() -> Iterator[tuple[str, SlackLike]]:
    state = SlackLike()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            state.attempts += 1
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            step = state.script.pop(0) if state.script else None
            if step == "hang":
                time.sleep(2)
                return
            if isinstance(step, int):
                self.answer(step, "server_error")
                return
            try:
                message = json.loads(body)
            except ValueError:
                self.answer(400, "invalid_payload")
                return
            refusal = slack_refusal(message)
            if refusal:
                self.answer(400, refusal)
                return
            state.posts.append(message)
            self.answer(200, "ok")

        def answer(self, status: int, text: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(text.encode())

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/services/T000/B000/XXXX", state
    finally:
        server.shutdown()
        server.server_close()
