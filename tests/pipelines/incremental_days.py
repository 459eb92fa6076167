"""Three small daily logs written by hand, for the incremental snapshot tests, and the command that builds them.

Events and requests repeat across days on purpose:
  day1: golden hour r1 (events g1a g1s g1f, exported), r2 (g2*, not exported); cold tone c1 (c1*, exported)
  day2: g1a again (valid there: a repeat of day1's event), c1s again with broken JSON, golden hour r2 again with new
        events (g5*, exported), golden hour r4 (g4*, exported), and g6a twice (a repeat within the file)
  day3: cold tone c7 (c7*, exported) and g4f again (a repeat of day2's event)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from databuild.cli import app

runner = CliRunner()
TOOLS = ("adjust", "selective_adjust", "filter")


def call(event: str, request: str, intent: str, tool: str, exported: bool, output: str) -> dict[str, Any]:
    return {
        "event_id": event,
        "request_id": request,
        "ts": "2024-05-01T10:00:00Z",
        "intent": intent,
        "tool": tool,
        "response": f"thinking about {intent}... JSON: {output}",
        "exported": exported,
    }


def request(prefix: str, request_id: str, intent: str, exported: bool, contrast: int) -> list[dict[str, Any]]:
    outputs = {"adjust": json.dumps({"contrast": contrast}), "selective_adjust": "{}", "filter": "{}"}
    return [call(f"{prefix}{tool[0]}", request_id, intent, tool, exported, outputs[tool]) for tool in TOOLS]


DAY1 = [
    *request("g1", "r1", "golden hour", True, 10),
    *request("g2", "r2", "golden hour", False, 20),
    *request("c1", "c1", "cold tone", True, -30),
]
DAY2 = [
    DAY1[0],  # g1a again: valid in day2 by itself, a duplicate_event of day1's line 1
    call("c1s", "c1", "cold tone", "selective_adjust", True, "{'bad': json}"),  # invalid_json by itself
    *request("g5", "r2", "golden hour", True, 20),  # request r2 again: n_calls counts it once
    *request("g4", "r4", "golden hour", True, 20),
    call("g6a", "r6", "golden hour", "adjust", False, '{"contrast": 30}'),
    call("g6a", "r6", "golden hour", "adjust", False, '{"contrast": 30}'),  # a repeat within day2
]
DAY3 = [*request("c7", "c7", "cold tone", True, -40), DAY2[7]]  # DAY2[7] is g4f


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def write_days(folder: Path) -> list[Path]:
    folder.mkdir()
    return [write_jsonl(folder / f"day{n}.jsonl", records) for n, records in enumerate((DAY1, DAY2, DAY3), start=1)]


def snapshot(store: Path, logs: list[Path], *args: str) -> dict[str, Any]:
    result = runner.invoke(
        app,
        ["snapshot", "--store", str(store), "--format", "json", *[a for p in logs for a in ("--logs", str(p))], *args],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    report["stderr"] = result.stderr
    return report
