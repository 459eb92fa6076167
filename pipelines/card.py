"""The dataset card (`versions/vN/README.md`): Hugging Face YAML metadata and a page a reviewer can read."""

from __future__ import annotations

from typing import Any

from databuild.display import used_share, visible
from databuild.pack import ToolPack

# Hugging Face's size buckets (the `size_categories` tag) by the number of rows of the main config.
SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def size_category(rows: int) -> str:
    return next((label for limit, label in SIZE_CATEGORIES if rows < limit), "1M<n<10M" if rows < 10**7 else "n>10M")


def _config_yaml(config: str, info: dict[str, Any]) -> tuple[list[str], list[str]]:
    """One config's `configs` entry (explicit Arrow `data_files` per split) and its `dataset_info` entry.

    `data_dir` alone is not enough: `datasets` would read each split's `state.json` as Arrow. Empty splits are left
    out of both, because `load_dataset` cannot build a split without rows.
    """
    splits = {name: split for name, split in info["splits"].items() if split["num_examples"] > 0}
    entry = [f"- config_name: {config}"] + (["  default: true"] if config == "rows" else []) + ["  data_files:"]
    for name in splits:
        entry += [f"  - split: {name}", f"    path: {config}/{name}/data-*.arrow"]
    described = [f"- config_name: {config}", "  features:"]
    for column, dtype in info["features"]:
        described += [f"  - name: {column}", f"    dtype: {dtype}"]
    described.append("  splits:")
    for name, split in splits.items():
        described += [
            f"  - name: {name}",
            f"    num_bytes: {split['num_bytes']}",
            f"    num_examples: {split['num_examples']}",
        ]
    described += [
        f"  download_size: {sum(s['file_bytes'] for s in splits.values())}",
        f"  dataset_size: {sum(s['num_bytes'] for s in splits.values())}",
    ]
    return entry, described


def _yaml_metadata(manifest: dict[str, Any], datasets_info: dict[str, dict[str, Any]]) -> str:
    rows = sum(counts["rows"] for counts in manifest["used_all"].values())
    lines = [
        "---",
        f"pretty_name: databuild {manifest['name']}",
        "# license: fill in before publishing (an id such as apache-2.0 or cc-by-4.0, or other); unknown until then",
        "license: unknown",
        "language:",
        "- en",
        "task_categories:",
        "- text-generation",
        f"size_categories:\n- {size_category(rows)}",
        "source_datasets:",
        "- original",
        "tags:",
        "- distillation",
        "- tool-use",
        "- databuild",
    ]
    configs, described = ["configs:"], ["dataset_info:"]
    for config, info in datasets_info.items():
        entry, description = _config_yaml(config, info)
        configs += entry
        described += description
    lines += configs + described
    lines += [
        f'databuild_fingerprint: "{manifest["fingerprint"]}"',
        f"databuild_parent: {manifest.get('parent') or 'null'}",
    ]
    return "\n".join(lines + ["---", ""])


def used_all_markdown(used: dict[str, dict[str, Any]], tools: tuple[str, ...]) -> str:
    lines = ["| split | rows | " + " | ".join(f"{t} used" for t in tools) + " |", "|---|---:|" + "---:|" * len(tools)]
    for split, counts in used.items():
        total = counts["rows"]
        cells = []
        for tool in tools:
            n = counts[f"{tool}_used"]
            cells.append(used_share(n, total))
        lines.append(f"| {split} | {total} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _loading_section(datasets_info: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Loading",
        "",
        "```python",
        "import datasets",
        "",
        'rows = datasets.load_dataset("PATH_OR_HUB_REPO", "rows")  # or "sft"; PATH: this directory',
        'rows = datasets.load_from_disk("PATH/rows")  # the same rows, memory-mapped, no cache copy',
        "```",
    ]
    for config, info in datasets_info.items():
        for split, counts in info["splits"].items():
            if counts["num_examples"] == 0:
                lines += [
                    "",
                    f"`{config}/{split}` is empty: `load_dataset` does not list it (it cannot load an empty split).",
                ]
    return lines


def render_card(manifest: dict[str, Any], pack: ToolPack, datasets_info: dict[str, dict[str, Any]]) -> str:
    """The card; `datasets_info` per config (`rows`, `sft`): `features` [(column, dtype)] and per split
    `num_examples`, `num_bytes` (Arrow data) and `file_bytes` (files on disk)."""
    accounting = manifest.get("accounting") or {}
    intents = manifest.get("intents") or {}
    parts = [
        _yaml_metadata(manifest, datasets_info),
        f"# databuild dataset {manifest['name']}",
        "",
        f"Ground truth for a student model that picks tools of the `{pack.name}` pack"
        f" ({', '.join(f'`{name}`' for name in pack.names)}) and their",
        "parameters from a user's request, distilled from a teacher LLM's logged calls: per intent and tool,",
        "the teacher output with the highest export rate.",
        "",
        f"- fingerprint: `{manifest['fingerprint']}`",
        f"- parent: `{manifest.get('parent')}`",
        f"- created: {manifest['created_at']}",
        f"- command: `{visible(manifest.get('command', ''))}`",
        "",
        "## Splits and tool use (Used / All)",
        "",
        used_all_markdown(manifest["used_all"], pack.names),
        "",
        "## Layout",
        "",
        f"- `rows/`: one row per intent (`{', '.join(pack.row_columns())}`), canonical JSON per tool.",
        "- `sft/`: one row per (intent, tool): `prompt` -> `completion` (`Parameters: {...}`).",
        "- `quarantine.parquet`: every rejected input row with its reason; `pack.json`: the tool pack;"
        " `manifest.json`: full lineage.",
        "",
        *_loading_section(datasets_info),
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
