"""The version's quarantine file is written in (source_file, source_line) order, whatever the order of --logs and
whichever files came from the cache (it is written one input file at a time, not sorted whole)."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from databuild.cli import app

runner = CliRunner()


def line(event: str, intent: str, tool: str, response: str) -> str:
    record = {"event_id": event, "request_id": event, "ts": "2024-05-01T10:00:00Z", "intent": intent,
              "tool": tool, "response": response, "exported": True}  # fmt: skip
    return json.dumps(record) + "\n"


def day(path: Path, prefix: str) -> Path:
    lines = [
        line(f"{prefix}1", "warm", "adjust", "JSON: {}"),
        line(f"{prefix}2", "warm", "selective_adjust", "JSON: {}"),
        line(f"{prefix}3", "warm", "filter", "JSON: {}"),
        line(f"{prefix}4", "warm", "adjust", "no marker, no object"),  # line 4: no_json
        line(f"{prefix}5", "warm", "filter", 'JSON: {"name": }'),  # line 5: invalid_json
        "[1, 2]\n",  # line 6: bad_record
    ]
    path.write_text("".join(lines))
    return path


def snapshot(store: Path, logs: list[Path]) -> None:
    arguments = ["snapshot", "--store", str(store), *[a for p in logs for a in ("--logs", str(p))]]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output


def test_the_quarantine_file_is_in_file_then_line_order(tmp_path: Path) -> None:
    b, a, c = day(tmp_path / "b.jsonl", "b"), day(tmp_path / "a.jsonl", "a"), day(tmp_path / "c.jsonl", "c")
    store = tmp_path / "store"
    snapshot(store, [b])  # b comes from the cache in the second build
    snapshot(store, [b, c, a])
    written = pl.read_parquet(store / "versions" / "v2" / "quarantine.parquet")
    expected = [(name, n, reason) for name in ("a.jsonl", "b.jsonl", "c.jsonl")
                for n, reason in ((4, "no_json"), (5, "invalid_json"), (6, "bad_record"))]  # fmt: skip
    assert [(Path(f).name, n, r) for f, n, r in written.select("source_file", "source_line", "reason").rows()] == (
        expected
    )
