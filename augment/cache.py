"""The LLM response cache: every usable response, keyed by a hash of the request, appended as it arrives.

One JSON line per response in `store/cache/llm/responses.jsonl`, written with a single unbuffered `write` on an
append-only descriptor: a killed process leaves at most one torn last line (skipped on load), and a re-run — or a
resumed one — finds every answer that had arrived and sends no request twice. Only the request's model, messages
and sampling parameters enter the key; credentials and endpoints are never written here.

Only usable replies enter it (`checked_response`): at least one choice, every content a string, token counts that
are whole non-negative numbers. Each text is cut to its first `MAX_TEXT_BYTES` (UTF-8) — the parser reads one
line — so a server sending megabytes cannot grow the cache that every run reads. A line that is not usable (torn,
hand-edited, written by an older version) is skipped with a warning, and its request is asked again.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import math
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from databuild.display import visible
from databuild.store import Store, append_bytes, open_no_follow, refuse_link

CACHE_SUBDIR = "llm"
CACHE_FILE = "responses.jsonl"
LOCK_FILE = "responses.lock"  # held by the run that sends requests; holds that run's pid
MAX_TEXT_BYTES = 4096  # per choice: the proposed request is one short line; the rest is never read


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
    texts: tuple[str, ...]  # one per choice, each at most MAX_TEXT_BYTES of UTF-8
    prompt_tokens: int
    completion_tokens: int


class UnusableResponse(ValueError):
    """A reply (or a cache line) that is not a usable completion; the message says why."""


def capped_text(text: str) -> str:
    """`text` cut to its first MAX_TEXT_BYTES of UTF-8, never inside a character."""
    try:
        encoded = text.encode("utf-8")
    except UnicodeEncodeError:
        raise UnusableResponse("a choice's content is not valid Unicode (lone surrogate)") from None
    return text if len(encoded) <= MAX_TEXT_BYTES else encoded[:MAX_TEXT_BYTES].decode("utf-8", "ignore")


def _token_count(value: Any, name: str) -> int:
    if value is None:  # a server that does not report usage
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnusableResponse(f"usage.{name} is not a number: {value!r}")
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise UnusableResponse(f"usage.{name} is not a whole non-negative number: {value!r}")
    return int(value)


def checked_response(texts: Any, prompt_tokens: Any, completion_tokens: Any) -> CachedResponse:
    """The one check of a reply, fresh or cached: raises UnusableResponse, or returns it with its texts capped."""
    if not isinstance(texts, list | tuple) or not texts:
        raise UnusableResponse("no choices")
    for text in texts:
        if not isinstance(text, str):
            raise UnusableResponse(f"a choice's content is {'null' if text is None else type(text).__name__}")
    return CachedResponse(
        tuple(capped_text(text) for text in texts),
        _token_count(prompt_tokens, "prompt_tokens"),
        _token_count(completion_tokens, "completion_tokens"),
    )


class ResponseCache:
    """Append-only response log, loaded into memory once; `put` persists before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._entries: dict[str, CachedResponse] = {}
        self._lock = threading.Lock()
        refuse_link(path)  # appended to: a link would make it write outside the store
        self._load()

    @classmethod
    def for_store(cls, store: Store) -> ResponseCache:
        return cls(store.llm_cache_dir / CACHE_FILE)

    def _load(self) -> None:
        if not self.path.is_file():
            return
        skipped = 0
        with open(self.path, "rb") as handle:
            for line in handle:
                if not line.strip():
                    continue
                try:
                    key, response = _parse_line(line.decode("utf-8"))
                except (ValueError, KeyError, TypeError, RecursionError):
                    skipped += 1  # torn by a killed writer, or not a usable reply: that request is asked again
                    continue
                self._entries[key] = response
        if skipped:
            noun = "line" if skipped == 1 else "lines"
            sys.stderr.write(
                f"warning: skipped {skipped} unusable {noun} of the LLM response cache {visible(self.path)} "
                "(torn or not a usable reply); those requests are asked again\n"
            )

    @contextmanager
    def exclusive(self, note: Callable[[str], None]) -> Iterator[None]:
        """Hold the store's sender lock: one run at a time sends requests, so two concurrent runs never send the
        same request twice. A run that has to wait says so through `note`; once it holds the lock it reads the
        cache again, and finds every answer the other run received."""
        descriptor = open_no_follow(self.path.with_name(LOCK_FILE), os.O_RDWR)
        try:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip() or "unknown"
                note(
                    f"waiting for the LLM response cache lock held by pid {holder} (another augment run on this store)"
                )
                fcntl.flock(descriptor, fcntl.LOCK_EX)
            os.ftruncate(descriptor, 0)
            os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
            with self._lock:
                self._entries.clear()
                self._load()
            yield
        finally:
            os.close(descriptor)  # releases the lock

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedResponse | None:
        return self._entries.get(key)

    def put(self, key: str, model: str, response: CachedResponse) -> None:
        """Persist a usable response (UnusableResponse otherwise: nothing unusable is ever written)."""
        response = checked_response(response.texts, response.prompt_tokens, response.completion_tokens)
        record = {
            "key": key,
            "model": model,
            "texts": list(response.texts),
            "usage": {"prompt_tokens": response.prompt_tokens, "completion_tokens": response.completion_tokens},
        }
        line = (json.dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
        with self._lock:
            # A torn line from an earlier killed run must not swallow this one: start on a fresh line.
            append_bytes(self.path, line, fresh_line=True)
            self._entries[key] = response


def _parse_line(line: str) -> tuple[str, CachedResponse]:
    record = json.loads(line)
    if not isinstance(record, dict) or not isinstance(record.get("key"), str) or not isinstance(record["usage"], dict):
        raise UnusableResponse("not a cache record")
    usage = record["usage"]
    return record["key"], checked_response(record["texts"], usage.get("prompt_tokens"), usage.get("completion_tokens"))
