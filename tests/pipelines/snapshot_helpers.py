"""Hand-written canonical objects the snapshot tests compare against (written out, not derived from the code)."""

from __future__ import annotations

ZERO_ADJUST = dict.fromkeys(
    [
        "exposure",
        "contrast",
        "brightness",
        "highlights",
        "shadows",
        "saturation",
        "vibrance",
        "temperature",
        "tint",
        "hue",
        "bloom",
        "sharpen",
        "structure",
        "linearOffset",
    ],
    0,
)
ZERO_SELECTIVE = {c: {"saturation": 0, "luminance": 0} for c in ["red", "orange", "yellow", "green", "cyan", "blue"]}
