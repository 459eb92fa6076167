"""The dataset card (`versions/vN/README.md`): Hugging Face YAML metadata and a page a reviewer can read."""

from __future__ import annotations

from typing import Any

from databuild.display import visible
from databuild.tools import TOOLS


def _yaml_metadata(manifest: dict[str, Any]) -> str:
    used = manifest["used_all"]
    lines = [
        "---",
        f"pretty_name: databuild {manifest['name']}",
        "language:",
        "- en",
        "task_categories:",
        "- text-generation",
        "tags:",
        "- distillation",
        "- tool-use",
        "- databuild",
        "configs:",
        "- config_name: rows",
        "  data_dir: rows",
        "- config_name: sft",
        "  data_dir: sft",
        "dataset_info:",
        "  splits:",
    ]
    for split, counts in used.items():
        lines += [f"  - name: {split}", f"    num_examples: {counts['rows']}"]
    lines += [
        f'databuild_fingerprint: "{manifest["fingerprint"]}"',
        f"databuild_parent: {manifest.get('parent') or 'null'}",
    ]
    return "\n".join(lines + ["---", ""])


def used_all_markdown(used: dict[str, dict[str, Any]]) -> str:
    lines = ["| split | rows | " + " | ".join(f"{t} used" for t in TOOLS) + " |", "|---|---:|" + "---:|" * len(TOOLS)]
    for split, counts in used.items():
        total = counts["rows"]
        cells = []
        for tool in TOOLS:
            n = counts[f"{tool}_used"]
            share = f" ({n / total:.0%})" if total else ""
            cells.append(f"{n} / {total}{share}")
        lines.append(f"| {split} | {total} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_card(manifest: dict[str, Any]) -> str:
    accounting = manifest.get("accounting") or {}
    intents = manifest.get("intents") or {}
    parts = [
        _yaml_metadata(manifest),
        f"# databuild dataset {manifest['name']}",
        "",
        "Ground truth for a student model that picks colour tools (`adjust`, `selective_adjust`, `filter`) and their",
        "parameters from a user's look request, distilled from a teacher LLM's logged calls: per intent and tool,",
        "the teacher output with the highest export rate.",
        "",
        f"- fingerprint: `{manifest['fingerprint']}`",
        f"- parent: `{manifest.get('parent')}`",
        f"- created: {manifest['created_at']}",
        f"- command: `{visible(manifest.get('command', ''))}`",
        "",
        "## Splits and tool use (Used / All)",
        "",
        used_all_markdown(manifest["used_all"]),
        "",
        "## Layout",
        "",
        "- `rows/`: one row per intent (`intent, intent_text, adjust, selective_adjust, filter, *_used, n_calls,"
        " source, augmented_from, iteration`), canonical JSON per tool.",
        "- `sft/`: one row per (intent, tool): `prompt` -> `completion` (`Parameters: {...}` with non-zero values).",
        "- `quarantine.parquet`: every rejected input row with its reason; `manifest.json`: full lineage.",
        "",
        "Load with `datasets.load_from_disk('rows')`.",
    ]
    if accounting:
        parts += ["", "## Input accounting", "", f"- input rows: {accounting.get('input_rows')}"]
        parts.append(f"- valid rows: {accounting.get('valid_rows')}")
        for reason, count in (accounting.get("quarantined") or {}).items():
            parts.append(f"- quarantined `{reason}`: {count}")
    if intents:
        parts += ["", "## Intents", "", f"- seen: {intents.get('seen')}, kept: {intents.get('kept')}"]
        for reason, count in (intents.get("excluded") or {}).items():
            parts.append(f"- excluded `{reason}`: {count}")
    if manifest.get("augmentation"):
        aug = manifest["augmentation"]
        parts += ["", "## Augmentation", "", f"- generator: {aug.get('generator')}, model: {aug.get('model')}"]
        parts.append(f"- accepted intents: {aug.get('accepted')}")
    return "\n".join(parts) + "\n"
