"""Intent normalization, the one definition every stage shares."""

from __future__ import annotations

import unicodedata

MAX_INTENT_CHARS = 200


def normalize_intent(text: str) -> str:
    """`" ".join(unicodedata.normalize("NFKC", text).casefold().split())`, exactly."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())
