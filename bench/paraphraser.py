"""A loopback OpenAI-compatible endpoint that answers the similar-intent prompt with another phrasing of the same look.

It stands in for GPT-4 (which knows synonyms) in benches and tests of the long-tail world
(`databuild simulate --world longtail`): it reads the source intent from the prompt (`augment/prompts/`), finds the
look it phrases (the world's phrasebook for the seed, else the vocabulary's longest mood and scene synonyms in it)
and composes a new phrasing of that look with the world's own vocabulary and templates. The answer is a function of
(source, the request's `seed`, the choice's index): the same request gets the same answer, every time. A source it
cannot place is echoed back (the filter rejects it as `same_as_source`). The server is `tests/llm_server.py`'s
real `ThreadingHTTPServer`.

    .venv/bin/python bench/paraphraser.py [--seed 0] [--phrasings-per-look 200]   # prints the base URL, serves
    databuild augment --generator openai --base-url <that URL> ...
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databuild.normalize import normalize_intent  # noqa: E402
from databuild.packs.colour.longtail import LongtailOptions, build_phrasebook, compose, vocabulary  # noqa: E402
from tests.llm_server import Reply, ScriptedLLMServer  # noqa: E402

ANSWER_PREFIX = "SIMILAR_USER_REQUEST: "


class Paraphraser:
    """Source intent -> (mood, scene) -> a new phrasing, deterministic in (source, seed)."""

    def __init__(self, world_seed: int = 0, phrasings_per_look: int = LongtailOptions.phrasings_per_look) -> None:
        book = build_phrasebook(world_seed, phrasings_per_look)
        self._look = {
            text: (int(book.look_mood[look]), int(book.look_scene[look])) for text, look in book.look_of().items()
        }

    def look_of(self, source: str) -> tuple[int, int] | None:
        intent = normalize_intent(source)
        return self._look.get(intent) or _parsed_look(intent)

    def paraphrase(self, source: str, seed: Any) -> str:
        look = self.look_of(source)
        if look is None:
            return normalize_intent(source)
        digest = hashlib.sha256(f"{normalize_intent(source)}\x1f{seed}".encode()).digest()
        rng = np.random.default_rng(int.from_bytes(digest[:8], "big"))
        for _ in range(20):  # another phrasing than the source, when the vocabulary has one
            text = compose(*look, rng)
            if text != normalize_intent(source):
                return text
        return text

    def reply(self, source: str, seed: Any) -> Reply:
        return Reply(ANSWER_PREFIX + self.paraphrase(source, seed))


def _parsed_look(intent: str) -> tuple[int, int] | None:
    """The mood and the scene whose longest synonym occurs in the intent (None when either is missing)."""
    words = vocabulary()
    found = []
    for group in ("moods", "scenes"):
        matches = [
            (len(word), index)
            for index, entry in enumerate(words[group])
            for word in entry["synonyms"]
            if word in intent
        ]
        if not matches:
            return None
        found.append(max(matches)[1])
    return found[0], found[1]


def paraphrasing_server(
    world_seed: int = 0, phrasings_per_look: int = LongtailOptions.phrasings_per_look
) -> ScriptedLLMServer:
    """The endpoint, not yet started: use it as a context manager; its `base_url` is the `/v1` root."""
    return ScriptedLLMServer(answer=Paraphraser(world_seed, phrasings_per_look).reply)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="The world's seed (simulate --seed).")
    parser.add_argument("--phrasings-per-look", type=int, default=LongtailOptions.phrasings_per_look)
    args = parser.parse_args()
    with paraphrasing_server(args.seed, args.phrasings_per_look) as server:
        print(server.base_url, flush=True)
        threading.Event().wait()


if __name__ == "__main__":
    main()
