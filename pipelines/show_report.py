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
    """`databuild show`: a version's manifest as a reviewer reads it.

    Sections, in order: name and lineage, tool pack, command, inputs, input accounting, intents, Used / All (with
    the SFT row count), augmentation, the dataset card's path. A section the manifest lacks is left out.
    """
    _print_identity(manifest, lineage, console)
    _print_pack_and_command(manifest, console)
    _print_inputs(manifest.get("inputs"), console)
    _print_counts("Input accounting", manifest.get("accounting"), "quarantined", console)
    _print_counts("Intents", manifest.get("intents"), "excluded", console)
    _print_used_all(manifest.get("used_all") or {}, console)
    if manifest.get("sft_rows"):
        _pairs([("sft rows", manifest["sft_rows"])], console)
    augmentation = manifest.get("augmentation")
    if augmentation:
        _heading("Augmentation", console)
        _pairs(_flatten(augmentation), console)
    _heading("Dataset card", console)
    console.print(rich_text(f"  {card_path}"), soft_wrap=True)


def _heading(text: str, console: Any) -> None:
    console.print()
    console.print(rich_text(text, "bold"))


def _pairs(items: list[tuple[str, Any]], console: Any) -> None:
    for key, value in items:
        console.print(rich_text(f"  {key}: {setting_text(value)}"))


def _print_identity(manifest: dict[str, Any], lineage: list[str], console: Any) -> None:
    console.print(rich_text(f"databuild version {manifest.get('name')}", "bold"))
    _pairs(
        [
            ("created", manifest.get("created_at")),
            ("fingerprint", manifest.get("fingerprint")),
            ("parent", manifest.get("parent")),
            ("lineage", " ← ".join(lineage)),
        ],
        console,
    )


def _print_pack_and_command(manifest: dict[str, Any], console: Any) -> None:
    pack = manifest.get("pack") or {"name": "colour (built before tool packs)"}
    _heading("Tool pack", console)
    _pairs([(key, ", ".join(value) if key == "tools" else value) for key, value in pack.items()], console)
    _heading("Command", console)
    _pairs([("command", manifest.get("command"))] + _flatten(manifest.get("parameters") or {}, "parameters"), console)


def _print_inputs(inputs: Any, console: Any) -> None:
    """The inputs: a list (one line per file, its fields on the line) or, in older manifests, a mapping."""
    if not inputs:
        return
    _heading("Inputs", console)
    if not isinstance(inputs, list):
        _pairs(_flatten(inputs), console)
        return
    for item in inputs:
        if isinstance(item, dict):
            console.print(rich_text("  - " + ", ".join(f"{k}: {setting_text(v)}" for k, v in item.items())))
        else:
            console.print(rich_text(f"  - {item}"))


def _print_counts(title: str, counts: dict[str, Any] | None, by_reason: str, console: Any) -> None:
    """A section of counts, then one line per reason of the `by_reason` mapping (`quarantined <reason>: n`)."""
    if not counts:
        return
    _heading(title, console)
    _pairs([(k, v) for k, v in counts.items() if k != by_reason], console)
    for reason, count in (counts.get(by_reason) or {}).items():
        console.print(rich_text(f"  {by_reason} {reason}: {count}"))


def _print_used_all(used: dict[str, Any], console: Any) -> None:
    """The Used / All table: per split, its rows and each tool's used share."""
    if not used:
        return
    from rich.table import Table

    table = Table(title="Used / All", title_justify="left")
    table.add_column("split")
    table.add_column("rows", justify="right")
    tools = [key.removesuffix("_used") for key in next(iter(used.values())) if key != "rows"]
    for tool in tools:
        table.add_column(f"{tool} used", justify="right")
    for split, counts in used.items():
        total = counts.get("rows", 0)
        cells = [used_share(counts.get(f"{tool}_used", 0), total) for tool in tools]
        table.add_row(rich_text(split), rich_text(total), *(rich_text(cell) for cell in cells))
    console.print()
    console.print(table)
