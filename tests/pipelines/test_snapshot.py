"""End-to-end snapshot tests on the handmade fixture (tests/fixtures/make_teacher_logs.py).

Every expected value below is derived by hand from the fixture's records; the arithmetic is in the comments.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import datasets
import duckdb
import polars as pl
import pytest
from typer.testing import CliRunner

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.store import open_store
from tests.pipelines.snapshot_helpers import ZERO_ADJUST, ZERO_SELECTIVE

TOOLS = ("adjust", "selective_adjust", "filter")

FIXTURE = Path(__file__).parents[1] / "fixtures" / "teacher_logs.jsonl"
runner = CliRunner()


def dumps(obj: object) -> str:
    return json.dumps(obj, separators=(",", ":"))


def snapshot(store: Path, *args: str) -> dict:
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    store = tmp_path_factory.mktemp("store")
    return store, snapshot(store, "--logs", str(FIXTURE), "--test-fraction", "0.5")


def test_accounting_identity_and_reasons(built: tuple[Path, dict]) -> None:
    store, report = built
    # 8 intents x requests x 3 tools = 87 tool calls, of which d1/selective (saturation 200) and m1/selective
    # (no JSON) are quarantined -> 85 valid. 15 quarantined: 2 bad_record ("not json", an array), 1 missing_field
    # (no response), 3 bad_type (exported "yes", a list intent, ts "yesterday"), 1 duplicate_event (g1-adjust
    # again), 1 unknown_tool (crop), 1 empty_intent, 2 intent_too_long (201 chars, 1 MB), 1 no_json (morocco),
    # 1 invalid_json (single quotes), 2 schema_violation (d1, and the 5000-deep object). The blank line is no row.
    assert report["accounting"] == {
        "input_rows": 100,
        "valid_rows": 85,
        "quarantined": {
            "bad_record": 2,
            "missing_field": 1,
            "bad_type": 3,
            "duplicate_event": 1,
            "unknown_tool": 1,
            "empty_intent": 1,
            "intent_too_long": 2,
            "no_json": 1,
            "invalid_json": 1,
            "schema_violation": 2,
        },
        "outside_window": 0,
    }
    # seen: golden hour, cold tone, dark atmosphere, fire, morocco, the matrix, the DROP TABLE text, nul\x00byte
    # no_exports: fire, DROP TABLE, nul byte; incomplete_tools: morocco (its only selective call has no JSON)
    assert report["intents"] == {"seen": 8, "kept": 4, "excluded": {"no_exports": 3, "incomplete_tools": 1}}
    manifest = open_store(store).manifest("v1")
    accounting = manifest["accounting"]
    assert accounting["input_rows"] == accounting["valid_rows"] + sum(accounting["quarantined"].values())
    assert manifest["parent"] is None and manifest["fingerprint"].startswith("sha256:")
    assert manifest["inputs"][0]["rows"] == 100 and len(manifest["inputs"][0]["sha256"]) == 64


def test_quarantine_keeps_every_rejected_row_with_position_and_record(built: tuple[Path, dict]) -> None:
    store, _ = built
    quarantine = pl.read_parquet(store / "versions" / "v1" / "quarantine.parquet")
    assert quarantine.height == 15
    by_line = dict(zip(quarantine["source_line"].to_list(), quarantine["reason"].to_list(), strict=True))
    assert by_line[88] == "bad_record" and by_line[89] == "bad_record"  # lines 88/89 of the file
    assert by_line[29] == "schema_violation"  # d1's selective_adjust
    record = quarantine.filter(pl.col("source_line") == 29)["record"][0]
    assert json.loads(record)["teacher_model"] == "gpt-3.5-turbo"  # extra fields survive in quarantine
    # DuckDB reads the same file
    assert duckdb.sql(f"SELECT count(*) FROM '{store}/versions/v1/quarantine.parquet'").fetchall() == [(15,)]


def test_ground_truth_is_export_maximizing_with_tie_breaks(built: tuple[Path, dict]) -> None:
    store, _ = built
    rows = {r["intent"]: r for r in load_rows(open_store(store), "v1").iter_rows(named=True)}
    assert sorted(rows) == ["cold tone", "dark atmosphere", "golden hour", "the matrix"]
    golden = rows["golden hour"]
    # adjust: contrast 10 = 1 export / 2 calls = 0.5; contrast 20 = 1/1 = 1.0 -> contrast 20
    assert golden["adjust"] == dumps(ZERO_ADJUST | {"contrast": 20})
    # selective: {} = 1/2 (g1 exported, g2 not); red sat 5 = 1/1 -> red
    assert golden["selective_adjust"] == dumps(ZERO_SELECTIVE | {"red": {"saturation": 5, "luminance": 0}})
    # filter: "FADED_highnoon" is the same preset: one candidate, stored in the list's spelling
    assert golden["filter"] == '{"name":"faded_HighNoon","intensity":40}'
    # surfaces: "Golden Hour" x2 (g1, g2 — 6 calls), "golden   hour" x1 (g3 — 3 calls) -> most frequent
    assert golden["intent_text"] == "Golden Hour" and golden["n_calls"] == 3
    cold = rows["cold tone"]
    # adjust: -30 (c1 exported, c2 not), -40 (c3, c4), -10 (c5, c6): all 1/2, 1 export, 2 calls -> smallest
    # canonical string: ...,"temperature":-1... < -3 < -4
    assert cold["adjust"] == dumps(ZERO_ADJUST | {"temperature": -10})
    # filter: winter 1/2 (c1 exported) vs north 2/4 (c3, c5 exported): same rate, north has more exports
    assert cold["filter"] == '{"name":"north","intensity":50}'
    assert cold["selective_adjust_used"] is False and cold["n_calls"] == 6
    dark = rows["dark atmosphere"]
    # selective: d1 is quarantined; blue lum -20 in d2, d4 (0/2) vs green lum -10 in d3 (0/1): tie on rate and
    # exports -> more calls
    assert dark["selective_adjust"] == dumps(ZERO_SELECTIVE | {"blue": {"saturation": 0, "luminance": -20}})
    assert dark["n_calls"] == 4  # d1's adjust and filter calls are valid, so d1 counts
    matrix = rows["the matrix"]
    assert matrix["filter"] == '{"name":"cyberpunk","intensity":80}'  # raw rate 1/1 beats 8/10
    assert matrix["n_calls"] == 11
    for row in rows.values():
        assert row["source"] == "teacher" and row["augmented_from"] is None and row["iteration"] == 0


def test_wilson_rank_prefers_the_well_supported_candidate(tmp_path: Path) -> None:
    snapshot(tmp_path, "--logs", str(FIXTURE), "--rank", "wilson")
    rows = {r["intent"]: r for r in load_rows(open_store(tmp_path), "v1").iter_rows(named=True)}
    # Wilson lower bound (z=1.96): cyberpunk 1/1 -> 1/(1+3.8416) = 0.207; night_vision 8/10 ->
    # (0.8 + 0.19208 - 1.96*sqrt(0.016 + 0.009604)) / 1.38416 = 0.490 -> night_vision
    assert rows["the matrix"]["filter"] == '{"name":"night_vision","intensity":50}'
    # golden hour adjust: contrast 20 (1/1 -> 0.207) vs contrast 10 (1/2 -> 0.0945): unchanged
    assert rows["golden hour"]["adjust"] == dumps(ZERO_ADJUST | {"contrast": 20})


def test_datasets_load_back_with_the_contract_columns(built: tuple[Path, dict]) -> None:
    store, report = built
    version = store / "versions" / "v1"
    rows = datasets.load_from_disk(str(version / "rows"))
    assert set(rows) == {"train", "test"}
    assert rows["train"].column_names == [
        "intent",
        "intent_text",
        "adjust",
        "selective_adjust",
        "filter",
        "adjust_used",
        "selective_adjust_used",
        "filter_used",
        "n_calls",
        "source",
        "augmented_from",
        "iteration",
    ]
    assert rows["train"].features["n_calls"].dtype == "int64"
    assert rows["train"]["intent"] == sorted(rows["train"]["intent"])
    sft = datasets.load_from_disk(str(version / "sft"))
    assert sft["train"].column_names == ["intent", "tool", "prompt", "completion"]
    assert sft["train"].num_rows == 3 * rows["train"].num_rows
    completions = {(r["intent"], r["tool"]): r["completion"] for split in ("train", "test") for r in sft[split]}
    assert completions[("golden hour", "adjust")] == 'Parameters: {"contrast":20}'
    assert completions[("golden hour", "selective_adjust")] == 'Parameters: {"red":{"saturation":5}}'
    assert completions[("cold tone", "selective_adjust")] == "Parameters: {}"
    assert completions[("cold tone", "filter")] == 'Parameters: {"name":"north","intensity":50}'
    prompt = next(r["prompt"] for r in sft["train"] if r["intent"] == "golden hour" and r["tool"] == "filter")
    assert "golden hour" in prompt and "faded_HighNoon" in prompt and "Parameters:" in prompt
    manifest = json.loads((version / "manifest.json").read_text())
    split_of = {i: s for s in ("train", "test") for i in rows[s]["intent"]}
    assert manifest["used_all"] == report["used_all"]
    assert sum(v["rows"] for v in manifest["used_all"].values()) == 4 == len(split_of)
    card = (version / "README.md").read_text()
    assert card.startswith("---\n") and "databuild_fingerprint" in card and "Used / All" in card


def test_same_input_is_unchanged_and_new_options_make_a_child(built: tuple[Path, dict]) -> None:
    store, report = built
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--logs", str(FIXTURE), "--test-fraction", "0.5"])
    assert result.exit_code == 0
    assert "unchanged: identical to v1" in result.stdout
    assert open_store(store).version_names() == ["v1"]
    child = snapshot(store, "--logs", str(FIXTURE), "--test-fraction", "0.5", "--seed", "3")
    assert child["version"] == "v2" and child["fingerprint"] != report["fingerprint"]
    assert open_store(store).manifest("v2")["parent"] == "v1"


def test_time_window_restricts_the_build(tmp_path: Path) -> None:
    logs = tmp_path / "two_days.jsonl"
    records = [json.loads(line) for line in FIXTURE.read_text().splitlines()[:87]]  # the 87 valid-ish calls
    for record in records:
        if record["request_id"] == "g3":
            record["ts"] = "2024-05-02T08:00:00Z"
    logs.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    report = snapshot(tmp_path / "store", "--logs", str(logs), "--until", "2024-04-30")
    # g3's three calls fall after --until: not part of the build
    assert report["accounting"]["outside_window"] == 3 and report["accounting"]["input_rows"] == 84
    rows = {r["intent"]: r for r in load_rows(open_store(tmp_path / "store"), "v1").iter_rows(named=True)}
    # without g3, golden hour's adjust candidates are only contrast 10 (1/2)
    assert rows["golden hour"]["adjust"] == dumps(ZERO_ADJUST | {"contrast": 10})
    assert open_store(tmp_path / "store").manifest("v1")["parameters"]["until"] == "2024-04-30"


def test_jsonl_gz_and_parquet_inputs_give_the_same_fingerprint(tmp_path: Path) -> None:
    for name in ("logs.jsonl.gz", "logs.parquet"):
        result = runner.invoke(app, ["simulate", "--out", str(tmp_path / name), "--rows", "3000", "--intents", "200"])
        assert result.exit_code == 0, result.output
    a = snapshot(tmp_path / "a", "--logs", str(tmp_path / "logs.jsonl.gz"))
    b = snapshot(tmp_path / "b", "--logs", str(tmp_path / "logs.parquet"))
    assert a["fingerprint"] == b["fingerprint"] and a["accounting"] == b["accounting"]
    quarantine = pl.read_parquet(tmp_path / "b" / "versions" / "v1" / "quarantine.parquet")
    assert quarantine.height > 0 and quarantine["record"].null_count() == 0  # Parquet rows rebuilt as JSON


def _error(store: Path, *args: str) -> str:
    result = runner.invoke(app, ["snapshot", "--store", str(store), *args])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not (store / "versions").exists() or not any((store / "versions").iterdir())
    return result.stderr


def test_bad_inputs_are_clear_errors_and_write_nothing(tmp_path: Path) -> None:
    store = tmp_path / "store"
    assert _error(store, "--logs", str(tmp_path / "missing.jsonl")).startswith("Error: log file not found")
    (tmp_path / "empty.jsonl").write_text("")
    assert "is empty" in _error(store, "--logs", str(tmp_path / "empty.jsonl"))
    (tmp_path / "binary.jsonl").write_bytes(bytes(range(256)) * 4)
    assert "binary" in _error(store, "--logs", str(tmp_path / "binary.jsonl"))
    (tmp_path / "bad.jsonl.gz").write_bytes(b"not gzip")
    assert "gzip" in _error(store, "--logs", str(tmp_path / "bad.jsonl.gz"))
    pl.DataFrame({"event_id": ["e"], "intent": ["x"]}).write_parquet(tmp_path / "narrow.parquet")
    message = _error(store, "--logs", str(tmp_path / "narrow.parquet"))
    assert "lacks required column(s): request_id, ts, tool, response, exported" in message
    (tmp_path / "fake.parquet").write_text("hello")
    assert "not a readable Parquet file" in _error(store, "--logs", str(tmp_path / "fake.parquet"))
    (tmp_path / "only_bad.jsonl").write_text("nope\n[1]\n")
    assert "no valid rows" in _error(store, "--logs", str(tmp_path / "only_bad.jsonl"))
    assert "--rank" in _error(store, "--logs", str(FIXTURE), "--rank", "best")
    assert "--test-fraction" in _error(store, "--logs", str(FIXTURE), "--test-fraction", "1.5")
    assert "--since" in _error(store, "--logs", str(FIXTURE), "--since", "last week")
    assert "unsupported file type" in _error(store, "--logs", str(Path(__file__)))
    assert not list((store / "tmp").glob("*")) if (store / "tmp").exists() else True


def test_usage_errors_exit_1_with_one_error_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "databuild", "snapshot", "--test-fraction", "half"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr


def test_concurrent_snapshots_get_distinct_versions(tmp_path: Path) -> None:
    store = tmp_path / "store"
    commands = [
        [sys.executable, "-m", "databuild", "snapshot", "--store", str(store), "--logs", str(FIXTURE), "--seed", s]
        for s in ("1", "2", "2")
    ]
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], outputs
    # seeds 1 and 2 differ -> two versions; the second seed-2 run is identical to one of them
    assert open_store(store).version_names() == ["v1", "v2"]
    assert sum("unchanged: identical to" in out for out, _ in outputs) == 1
    for name in ("v1", "v2"):
        assert datasets.load_from_disk(str(store / "versions" / name / "rows"))["train"].num_rows > 0
    assert not list((store / "tmp").iterdir())


def test_gzip_fixture_and_hostile_intents_are_data(tmp_path: Path) -> None:
    gz = tmp_path / "logs.jsonl.gz"
    gz.write_bytes(gzip.compress(FIXTURE.read_bytes()))
    report = snapshot(tmp_path / "store", "--logs", str(gz))
    assert report["accounting"]["valid_rows"] == 85
    pool = pl.read_parquet(tmp_path / "store" / "versions" / "v1" / "intent_pool.parquet")
    assert "'); drop table raw; --" in pool["intent"].to_list()
    assert "nul\x00byte" in pool["intent"].to_list()


def test_embedded_sample_is_realistic(tmp_path: Path) -> None:
    """No --logs: the simulated sample, deterministic, with the paper's Used/All shares and every kind of mess."""
    report = snapshot(tmp_path)
    again = snapshot(tmp_path / "other")
    assert report["fingerprint"] == again["fingerprint"]  # deterministic from a fresh store
    train = report["used_all"]["train"]
    shares = {tool: train[f"{tool}_used"] / train["rows"] for tool in ("adjust", "selective_adjust", "filter")}
    # the paper's train shares: adjust 7570/8252 = 0.92, selective 2647/8252 = 0.32, filter 5448/8252 = 0.66
    assert 0.85 <= shares["adjust"] <= 0.97
    assert 0.25 <= shares["selective_adjust"] <= 0.40
    assert 0.58 <= shares["filter"] <= 0.74
    reasons = report["accounting"]["quarantined"]
    assert {"duplicate_event", "missing_field", "no_json", "invalid_json", "schema_violation"} <= set(reasons)
    assert report["intents"]["excluded"]["no_exports"] > 0  # the long tail: intents never exported
    rows = load_rows(open_store(tmp_path), report["version"])
    assert (rows["n_calls"] >= 5).sum() > 50 and (rows["n_calls"] == 1).sum() > 50  # heavy-tailed popularity


def test_naive_timestamps_are_utc_whatever_the_host_timezone(tmp_path: Path) -> None:
    records = [json.loads(line) for line in FIXTURE.read_text().splitlines()[:9]]  # golden hour g1..g3
    for record in records:
        record["ts"] = "2024-04-30T22:00:00"  # no offset: UTC, i.e. before --since 2024-05-01
    records[-1]["ts"] = "2024-05-01T00:30:00"
    logs = tmp_path / "naive.jsonl"
    logs.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    outcomes = []
    for tz in ("UTC", "America/New_York", "Asia/Tokyo"):
        env = {**os.environ, "TZ": tz}
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "databuild",
                "snapshot",
                "--logs",
                str(logs),
                "--store",
                str(tmp_path / tz),
                "--since",
                "2024-05-01",
                "--format",
                "json",
            ],
            capture_output=True,
            text=True,
            env=env,
        )
        outcomes.append((result.returncode, result.stdout and json.loads(result.stdout)["accounting"]))
    # only the last call (00:30 UTC on May 1st) is in the window, on every host; its intent then has a single
    # tool, so nothing can be kept -> the same Error everywhere
    assert outcomes[0] == outcomes[1] == outcomes[2]


def test_a_broken_line_is_a_bad_record_not_a_broken_file(tmp_path: Path) -> None:
    lines = FIXTURE.read_bytes().split(b"\n")[:9]
    lines.insert(3, b'{"event_id": "nul", "intent": "a\x00b"}')  # a raw NUL byte
    lines.insert(5, b'{"event_id": "latin1", "intent": "caf\xe9"}')  # not UTF-8
    logs = tmp_path / "mixed.jsonl"
    logs.write_bytes(b"\n".join(lines) + b"\n")
    report = snapshot(tmp_path / "store", "--logs", str(logs))
    assert report["accounting"]["quarantined"] == {"bad_record": 2}
    assert report["accounting"]["valid_rows"] == 9
    quarantine = pl.read_parquet(tmp_path / "store" / "versions" / "v1" / "quarantine.parquet")
    assert quarantine["source_line"].to_list() == [4, 6]


def test_surface_forms_are_stripped_like_python(tmp_path: Path) -> None:
    records = [json.loads(line) for line in FIXTURE.read_text().splitlines()[:9]]  # golden hour g1..g3
    # g1 "Warm look\n", g2 "Warm look", g3 "warm look": stripped, "Warm look" has 6 calls, "warm look" 3
    for record, surface in zip(records, ["Warm look\n"] * 3 + ["Warm look"] * 3 + ["\twarm look"] * 3, strict=True):
        record["intent"] = surface
    logs = tmp_path / "surfaces.jsonl"
    logs.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    snapshot(tmp_path / "store", "--logs", str(logs))
    rows = load_rows(open_store(tmp_path / "store"), "v1")
    assert rows["intent_text"].to_list() == ["Warm look"]


def test_a_failed_write_leaves_no_partial_version(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pipelines.emit

    def broken_save(dataset_dict: object, path: Path) -> None:
        (path / "half-written").mkdir(parents=True)
        raise OSError("disk full")

    monkeypatch.setattr(pipelines.emit, "_save_dataset_dict", broken_save)
    result = runner.invoke(app, ["snapshot", "--store", str(tmp_path), "--logs", str(FIXTURE)])
    assert result.exit_code == 1 and "disk full" in result.stderr
    assert open_store(tmp_path).version_names() == []
    assert not (tmp_path / "versions").exists() or not any((tmp_path / "versions").iterdir())
    assert not any((tmp_path / "tmp").iterdir())


def test_snapshot_selects_what_a_plain_pandas_implementation_selects(tmp_path: Path) -> None:
    """Differential: bench/pandas_baseline.py (per-row Python + jsonschema + pandas groupbys) on simulated logs."""
    logs = tmp_path / "logs.parquet"
    result = runner.invoke(app, ["simulate", "--out", str(logs), "--rows", "6000", "--intents", "300", "--seed", "4"])
    assert result.exit_code == 0, result.output
    snapshot(tmp_path / "store", "--logs", str(logs))
    rows = load_rows(open_store(tmp_path / "store"), "v1")
    ours = {f"{r['intent']}\t{tool}": r[tool] for r in rows.iter_rows(named=True) for tool in TOOLS}
    baseline = Path(__file__).parents[2] / "bench" / "pandas_baseline.py"
    subprocess.run([sys.executable, str(baseline), str(logs), str(tmp_path / "truth.json")], check=True)
    theirs = json.loads((tmp_path / "truth.json").read_text())
    assert len(ours) > 300 and ours == theirs
