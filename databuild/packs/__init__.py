"""Built-in tool packs (each a folder with its pack file and anything only that pack needs)."""

from __future__ import annotations

from typing import Any

from databuild.pack import ToolPack, colour_pack


def previewer(pack: ToolPack) -> Any | None:
    """The visual previewer of a built-in pack (the colour pack's test chart), or None: other packs get none."""
    if pack.sha256 != colour_pack().sha256:
        return None
    from databuild.packs.colour import preview

    return preview
