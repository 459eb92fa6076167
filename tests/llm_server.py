"""A real OpenAI-compatible chat-completions server on loopback, with scripted misbehaviour, for tests and benches.

It runs `http.server.ThreadingHTTPServer` in a daemon thread and answers `POST /v1/chat/completions`. The source
intent is read back from the prompt (the text after the last `INPUT_USER_REQUEST:`). A script maps `"<source>#<seed>"`
(one request) or `"<source>"` (all its requests) to the behaviours of its successive attempts (the last one
repeats); requests without a script get `default(source)`.

Behaviours:
- `Reply(text)`: 200 with `text` as the message content (`""` = empty content, None = `null`, any other JSON value
  as it is), usage counted as 10 + 2.
- `NoChoices()`: 200 with an empty `choices` list.
- `BadUsage(usage, text)`: 200 with `text` and the `usage` object written as the given JSON text (e.g. `1e400`).
- `Status(code, retry_after=None)`: an error reply with that status (and a `Retry-After` header).
- `Slow(seconds, text)`: waits, then replies (past the client's timeout the client gives up first).
- `Malformed()`: 200 with a body that is not JSON.
- `Hang()`: holds the request until `release()`, then closes it without an answer.
Every request is logged (`requests`): source intent, seed, n, the behaviour and whether an answer was sent.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

INPUT_MARKER = "INPUT_USER_REQUEST:"
PROMPT_TOKENS = 10
COMPLETION_TOKENS = 2


@dataclass(frozen=True)
class Reply:
    text: Any


@dataclass(frozen=True)
class Status:
    code: int
    retry_after: str | None = None


@dataclass(frozen=True)
class Slow:
    seconds: float
    text: str


@dataclass(frozen=True)
class Malformed:
    pass


@dataclass(frozen=True)
class Hang:
    pass


@dataclass(frozen=True)
class NoChoices:
    pass


@dataclass(frozen=True)
class BadUsage:
    usage: str  # JSON text, written into the body as it is
    text: str = "SIMILAR_USER_REQUEST: counted"


Behaviour = Reply | Status | Slow | Malformed | Hang | NoChoices | BadUsage


@dataclass
class LoggedRequest:
    source: str
    seed: Any
    n: int
    behaviour: Behaviour
    received_at: float
    authorization: str | None
    answered: bool = False


def similar(source: str) -> Reply:
    return Reply(f"SIMILAR_USER_REQUEST: {source} variant")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # listen() backlog: the default 5 drops connects under a burst of 32


@dataclass
class ScriptedLLMServer:
    """Use as a context manager; `base_url` is the `/v1` root for the openai client."""

    script: dict[str, list[Behaviour]] = field(default_factory=dict)
    delay: float = 0.0  # added before every answer (the benchmark's 300 ms)
    default: Any = None  # callable(source) -> Behaviour; `similar` when None
    answer: Any = None  # callable(source, seed) -> Behaviour, in place of `default` (bench/paraphraser.py)
    requests: list[LoggedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()
        self._seen: dict[str, int] = defaultdict(int)
        self._release = threading.Event()
        self._server: ThreadingHTTPServer | None = None

    # -- lifecycle -------------------------------------------------------------------------------------------
    def __enter__(self) -> ScriptedLLMServer:
        server = _Server(("127.0.0.1", 0), _handler_for(self))
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
        assert self._server is not None
        self._server.shutdown()
        self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def release(self) -> None:
        self._release.set()

    # -- queries ---------------------------------------------------------------------------------------------
    def sources(self, answered_only: bool = False) -> list[str]:
        with self._lock:
            return [r.source for r in self.requests if r.answered or not answered_only]

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def reset_log(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- behaviour -------------------------------------------------------------------------------------------
    def _next_behaviour(self, source: str, seed: Any) -> Behaviour:
        key = f"{source}#{seed}" if f"{source}#{seed}" in self.script else source
        with self._lock:
            attempt = self._seen[key]
            self._seen[key] += 1
        steps = self.script.get(key)
        if steps:
            return steps[min(attempt, len(steps) - 1)]
        if self.answer is not None:
            return self.answer(source, seed)
        return (self.default or similar)(source)

    def _log(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.requests.append(entry)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)

    def _done(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _wait_for_release(self) -> None:
        self._release.wait()


def _source_of(body: dict[str, Any]) -> str:
    content = str(body["messages"][-1]["content"])
    after = content.rsplit(INPUT_MARKER, 1)[-1]
    return after.strip().splitlines()[0].strip() if after.strip() else ""


def _completion(body: dict[str, Any], text: Any) -> dict[str, Any]:
    n = int(body.get("n") or 1)
    return {
        "id": "chatcmpl-test",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "test-model"),
        "choices": [
            {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"} for i in range(n)
        ],
        "usage": {
            "prompt_tokens": PROMPT_TOKENS,
            "completion_tokens": COMPLETION_TOKENS * n,
            "total_tokens": PROMPT_TOKENS + COMPLETION_TOKENS * n,
        },
    }


def _handler_for(owner: ScriptedLLMServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, code: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
            self.wfile.flush()

        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            # A base URL with a query (`/v1?api-key=…`) gets the route appended after the query by the client.
            if not self.path.rstrip("/").endswith("chat/completions"):
                self._send(404, b'{"error": {"message": "not found"}}')
                return
            source = _source_of(body)
            behaviour = owner._next_behaviour(source, body.get("seed"))
            entry = LoggedRequest(
                source=source,
                seed=body.get("seed"),
                n=int(body.get("n") or 1),
                behaviour=behaviour,
                received_at=time.monotonic(),
                authorization=self.headers.get("Authorization"),
            )
            owner._log(entry)
            try:
                if owner.delay:
                    time.sleep(owner.delay)
                if isinstance(behaviour, Hang):
                    owner._wait_for_release()
                    self.close_connection = True
                    return
                if isinstance(behaviour, Status):
                    headers = {"Retry-After": behaviour.retry_after} if behaviour.retry_after else {}
                    message = json.dumps({"error": {"message": f"scripted {behaviour.code}", "type": "test"}})
                    self._send(behaviour.code, message.encode(), headers)
                elif isinstance(behaviour, Malformed):
                    self._send(200, b'{"id": "chatcmpl-broken", "choices": [')
                elif isinstance(behaviour, NoChoices):
                    self._send(200, json.dumps(_completion(body, None) | {"choices": []}).encode())
                    entry.answered = True
                elif isinstance(behaviour, BadUsage):
                    reply = json.dumps(_completion(body, behaviour.text) | {"usage": "USAGE"})
                    self._send(200, reply.replace('"USAGE"', behaviour.usage).encode())
                    entry.answered = True
                else:
                    if isinstance(behaviour, Slow):
                        time.sleep(behaviour.seconds)
                    self._send(200, json.dumps(_completion(body, behaviour.text)).encode())
                    entry.answered = True
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
            finally:
                owner._done()

    return Handler


if __name__ == "__main__":  # python -m tests.llm_server [DELAY]: serve in its own process, print the base URL
    import sys

    with ScriptedLLMServer(delay=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0) as standalone:
        print(standalone.base_url, flush=True)
        threading.Event().wait()
