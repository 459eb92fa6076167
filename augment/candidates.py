"""What every generator hands back: candidate requests for mistaken intents, and the accounting of its calls."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Candidate:
    source_intent: str  # the mistaken (normalized) intent it was generated for
    text: str  # the proposed request as written (becomes `intent_text`; normalized by the filters)
    n_calls: int  # logged teacher calls of this phrasing (0 for LLM-written ones)


@dataclass
class CallAccounting:
    """LLM calls of one generation. `made` = requests sent (cache misses, each counted once however many
    attempts it took); `failed` ⊆ `made` = still failing after the retries; `cached` = answered from the cache."""

    made: int = 0
    cached: int = 0
    failed: int = 0
    attempts: int = 0  # HTTP attempts, retries included
    prompt_tokens: int = 0
    completion_tokens: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    first_failure: str | None = None

    @property
    def succeeded(self) -> int:
        return self.made - self.failed + self.cached


@dataclass
class Generation:
    candidates: list[Candidate]
    accounting: CallAccounting
    requested: int  # requests asked for (openai) or sources looked up (neighbors)
    details: dict[str, Any] = field(default_factory=dict)
