"""A build a user can act on: a snapshot that keeps no intent says why per reason, shows the quarantine breakdown and
the first schema violation, and leaves its quarantine in STORE/tmp/last-failed/; a successful build with schema
violations names the first one on stderr. The `runs` table fits 80 columns."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
from typer.testing import CliRunner

from databuild.cli import app

runner = CliRunner()
COLOUR_PACK_LABEL = "databuild/packs/colour/tools.json (the built-in colour pack, inside the databuild package)"


def write_log(path: Path, filter_json: str, intents: tuple[str, ...] = ("golden hour", "the matrix")) -> Path:
    lines = []
    for i, intent in enumerate(intents):
        for tool, output in (("adjust", '{"contrast": 10}'), ("selective_adjust", "{}"), ("filter", filter_json)):
            record = {
                "event_id": f"{path.stem}-{i}-{tool}",
                "request_id": f"{path.stem}-{i}",
                "ts": "2024-03-01T10:00:00Z",
                "intent": intent,
                "tool": tool,
                "response": f"thinking ... JSON: {output}",
                "exported": True,
            }
            lines.append(json.dumps(record))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_nothing_kept_says_why_and_keeps_the_quarantine(tmp_path: Path) -> None:
    log = write_log(tmp_path / "logs.jsonl", '{"name": "kodak_gold", "intensity": 50}')
    store = tmp_path / "store"
    result = runner.invoke(app, ["snapshot", "--logs", str(log), "--store", str(store)])
    assert result.exit_code == 1, result.output
    quarantine_path = store / "tmp" / "last-failed" / "quarantine.parquet"
    # both intents lose their filter call (lines 3 and 6): each misses a tool; 6 rows, 4 valid, 2 quarantined
    assert result.stderr == (
        "Error: no intent could be kept: intents seen 2, all excluded: incomplete_tools 2 (a tool had no valid call); "
        "input rows 6: valid 4, quarantined schema_violation 2; "
        f'first schema_violation ({log}:3): filter name = "kodak_gold" is not one of its 34 names; '
        f"the valid values are listed in {COLOUR_PACK_LABEL}; quarantine: {quarantine_path}\n"
    )
    kept = pl.read_parquet(quarantine_path)
    assert kept["source_line"].to_list() == [3, 6] and set(kept["reason"]) == {"schema_violation"}
    assert not (store / "versions").exists() or not list((store / "versions").iterdir())


def test_a_build_with_violations_names_the_first_one(tmp_path: Path) -> None:
    log = write_log(tmp_path / "logs.jsonl", '{"name": "vivid", "intensity": 150}', ("golden hour",))
    good = write_log(tmp_path / "good.jsonl", '{"name": "vivid", "intensity": 50}', ("the matrix",))
    pack = tmp_path / "tools.json"  # the colour pack under another name: the message names the file given
    pack.write_bytes((Path(__file__).parents[2] / "databuild/packs/colour/tools.json").read_bytes())
    result = runner.invoke(
        app,
        ["snapshot", "--logs", str(log), "--logs", str(good), "--store", str(tmp_path / "s"), "--tools", str(pack)],
    )
    assert result.exit_code == 0, result.output
    assert (
        f"first schema_violation ({log}:3): filter intensity = 150 is out of range (maximum 100); "
        f"the valid values are listed in {pack}\n"
    ) in result.stderr
    assert "first schema_violation" not in result.stdout


def test_runs_table_fits_80_columns(tmp_path: Path) -> None:
    run_dir = tmp_path / "store" / "runs" / "20261124-211713-v1-tiny-t5"
    run_dir.mkdir(parents=True)
    record = {
        "run_id": run_dir.name,
        "status": "complete",
        "version": "v1",
        "fingerprint": "sha256:" + "0" * 64,
        "options": {"model": "tiny-t5", "epochs": 3},
        "arch": "seq2seq",
        "mode": "full",
        "epochs_done": 3,
        "selected_epoch": 3,
        "selected_overall": 0.0,
        "created_at": "2026-11-24T21:17:14+00:00",
    }
    (run_dir / "run.json").write_text(json.dumps(record))
    result = runner.invoke(app, ["runs", "--store", str(tmp_path / "store")], terminal_width=80)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.stdout
    assert lines[0].split() == ["run", "status", "version", "model", "mode", "epochs", "selected", "overall"]
