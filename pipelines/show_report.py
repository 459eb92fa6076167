"""`databuild show`: a version's manifest as a reviewer reads it (terminal)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from databuild.display import rich_text, setting_text, used_share


def _flatten(value: Any, prefix: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        out: list[tuple[str, Any]] = []
        for key, inner in value.items():
            out += _flatten(inner, f"{prefix}.{key}" if prefix else str(key))
        return out
    return [(prefix, value)]


def render_manifest(manifest: dict[str, Any], lineage: list[str], card_path: Path, console: Any) -> None:
    """`databuild show`: a version's manifest as a reviewer reads it."""
    from rich.table import Table

    def heading(text: str) -> None:
        console.print()
        console.print(rich_text(text, "bold"))

    def pairs(items: list[tuple[str, Any]]) -> None:
        for key, value in items:
            console.print(rich_text(f"  {key}: {setting_text(value)}"))

    console.print(rich_text(f"databuild version {manifest.get('name')}", "bold"))
    pairs(
        [
            ("created", manifest.get("created_at")),
            ("fingerprint", manifest.get("fingerprint")),
            ("parent", manifest.get("parent")),
            ("lineage", " ← ".join(lineage)),
        ]
    )
    pack = manifest.get("pack") or {"name": "colour (built before tool packs)"}
    heading("Tool pack")
    pairs([(key, ", ".join(value) if key == "tools" else value) for key, value in pack.items()])
    heading("Command")
    pairs([("command", manifest.get("command"))] + _flatten(manifest.get("parameters") or {}, "parameters"))
    inputs = manifest.get("inputs")
    if inputs:
        heading("Inputs")
        if isinstance(inputs, list):
            for item in inputs:
                if isinstance(item, dict):
                    console.print(rich_text("  - " + ", ".join(f"{k}: {setting_text(v)}" for k, v in item.items())))
                else:
                    console.print(rich_text(f"  - {item}"))
        else:
            pairs(_flatten(inputs))
    accounting = manifest.get("accounting")
    if accounting:
        heading("Input accounting")
        pairs([(k, v) for k, v in accounting.items() if k != "quarantined"])
        for reason, count in (accounting.get("quarantined") or {}).items():
            console.print(rich_text(f"  quarantined {reason}: {count}"))
    intents = manifest.get("intents")
    if intents:
        heading("Intents")
        pairs([(k, v) for k, v in intents.items() if k != "excluded"])
        for reason, count in (intents.get("excluded") or {}).items():
            console.print(rich_text(f"  excluded {reason}: {count}"))
    used = manifest.get("used_all") or {}
    if used:
        table = Table(title="Used / All", title_justify="left")
        table.add_column("split")
        table.add_column("rows", justify="right")
        tools = [key.removesuffix("_used") for key in next(iter(used.values())) if key != "rows"]
        for tool in tools:
            table.add_column(f"{tool} used", justify="right")
        for split, counts in used.items():
            total = counts.get("rows", 0)
            cells = []
            for tool in tools:
                n = counts.get(f"{tool}_used", 0)
                cells.append(used_share(n, total))
            table.add_row(rich_text(split), rich_text(total), *(rich_text(cell) for cell in cells))
        console.print()
        console.print(table)
    if manifest.get("sft_rows"):
        pairs([("sft rows", manifest["sft_rows"])])
    augmentation = manifest.get("augmentation")
    if augmentation:
        heading("Augmentation")
        pairs(_flatten(augmentation))
    heading("Dataset card")
    console.print(rich_text(f"  {card_path}"), soft_wrap=True)
