"""The LLM response cache: every completed response, keyed by a hash of the request, appended as it arrives.

One JSON line per response in `store/cache/llm/responses.jsonl`, written with a single unbuffered `write` on an
append-only descriptor: a killed process leaves at most one torn last line (skipped on load), and a re-run — or a
resumed one — finds every answer that had arrived and sends no request twice. Only the request's model, messages
and sampling parameters enter the key; credentials and endpoints are never written here.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from databuild.store import Store

CACHE_SUBDIR = "llm"
CACHE_FILE = "responses.jsonl"


def request_key(model: str, messages: list[dict[str, str]], sampling: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of (model, messages, sampling parameters)."""
    payload = json.dumps(
        {"model": model, "messages": messages, "sampling": sampling},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class CachedResponse:
    texts: tuple[str | None, ...]  # one per choice
    prompt_tokens: int
    completion_tokens: int


class ResponseCache:
    """Append-only response log, loaded into memory once; `put` persists before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, CachedResponse] = {}
        self._lock = threading.Lock()
        self._load()

    @classmethod
    def for_store(cls, store: Store) -> ResponseCache:
        return cls(store.cache_dir / CACHE_SUBDIR / CACHE_FILE)

    def _load(self) -> None:
        if not self.path.is_file():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                try:
                    record = json.loads(line)
                    self._entries[record["key"]] = CachedResponse(
                        tuple(record["texts"]),
                        int(record["usage"]["prompt_tokens"]),
                        int(record["usage"]["completion_tokens"]),
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a line torn by a killed writer: that response is simply asked again

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedResponse | None:
        return self._entries.get(key)

    def put(self, key: str, model: str, response: CachedResponse) -> None:
        record = {
            "key": key,
            "model": model,
            "texts": list(response.texts),
            "usage": {"prompt_tokens": response.prompt_tokens, "completion_tokens": response.completion_tokens},
        }
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # A torn line from an earlier killed run must not swallow this one: start on a fresh line.
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                if os.fstat(descriptor).st_size and not self._ends_with_newline():
                    line = b"\n" + line
                os.write(descriptor, line)
            finally:
                os.close(descriptor)
            self._entries[key] = response

    def _ends_with_newline(self) -> bool:
        with open(self.path, "rb") as handle:
            handle.seek(-1, os.SEEK_END)
            return handle.read(1) == b"\n"
