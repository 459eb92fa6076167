"""The same traffic in the four log formats builds the same version: identical `rows` and `sft` (content and split)
and the same valid rows, for the simulated sample and for a hand-made smart-home traffic; incremental builds over
daily gateway files give the full build's fingerprint.

The gateway files are written by `databuild simulate --log-format` and `databuild.log_formats` (the same traffic as
the databuild-format file), and read back by `snapshot` with its format detected (`--log-format auto`) and the
outcomes joined (`--outcomes`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from databuild.cli import app
from databuild.contracts import load_rows
from databuild.log_formats import GatewayTraffic, offered_tools, outcomes_path, write_gateway_logs
from databuild.store import open_store
from tests.pipelines.incremental_days import runner, snapshot

FORMATS = ("openai", "litellm", "langfuse")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "smart_home"


def built(store: Path, logs: list[Path], outcomes: list[Path], *args: str) -> dict[str, Any]:
    """A snapshot's report, its rows (by intent), its SFT records (by split, sorted) and its accounting."""
    report = snapshot(store, logs, *[a for o in outcomes for a in ("--outcomes", str(o))], *args)
    version = report["version"]
    opened = open_store(store)
    import datasets

    sft = datasets.load_from_disk(str(opened.version_dir(version) / "sft"))
    return {
        "report": report,
        "rows": load_rows(opened, version).sort("intent").to_dicts(),
        "sft": {
            split: pl.from_arrow(sft[split].data.table).sort(pl.all()).to_dicts()  # type: ignore[union-attr]
            for split in sft
        },
        "accounting": opened.manifest(version)["accounting"],
    }


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """The sample (400 requests over 150 intents) in each format, each built in a store of its own."""
    folder = tmp_path_factory.mktemp("gateway-sample")
    results = {}
    for log_format in ("databuild", *FORMATS):
        out = folder / f"{log_format}.jsonl"
        args = ["--rows", "1200", "--intents", "150", "--seed", "7", "--log-format", log_format]
        result = runner.invoke(app, ["simulate", "--out", str(out), *args])
        assert result.exit_code == 0, result.output
        outcomes = [] if log_format == "databuild" else [outcomes_path(out, log_format)]
        results[log_format] = built(folder / f"store-{log_format}", [out], outcomes)
    return results


@pytest.mark.parametrize("log_format", FORMATS)
def test_the_simulated_sample_builds_the_same_rows_and_sft(
    simulated: dict[str, dict[str, Any]], log_format: str
) -> None:
    reference, gateway = simulated["databuild"], simulated[log_format]
    assert len(reference["rows"]) > 30 and {r["split"] for r in reference["rows"]} == {"train", "test"}
    assert gateway["rows"] == reference["rows"]
    assert gateway["sft"] == reference["sft"]
    assert gateway["accounting"]["valid_rows"] == reference["accounting"]["valid_rows"]
    accounting = gateway["accounting"]
    assert accounting["input_rows"] == accounting["valid_rows"] + sum(accounting["quarantined"].values())
    # int(1200 * 0.002) = 2 bad records: 2 // 2 + 1 = 2 completions logged twice and 2 cut lines
    assert accounting["quarantined"]["bad_record"] == 2
    assert accounting["quarantined"]["duplicate_event"] >= 2


# --- a hand-made second pack: smart home --------------------------------------------------------------------------
# Per request: (request_id, ts, intent, exported, {tool: response}); a tool left out is offered and not called (its
# databuild record answers the neutral output).
LIGHTS_30 = 'Warm and dim. JSON: {"brightness": 30, "colour_temperature": 2200, "scene": "Relax"}'
LIGHTS_60 = 'JSON: {"brightness": 60}'
HEAT_21 = 'JSON: {"target": 21.2, "mode": "heat"}'
JAZZ = 'Jazz suits it. JSON: {"genre": "jazz", "volume": 25}'
REQUESTS: list[tuple[str, str, str, bool, dict[str, str]]] = [
    ("cosy-1", "2024-05-01T19:00:00Z", "Cosy evening", True, {"set_lights": LIGHTS_30, "set_thermostat": HEAT_21}),
    ("cosy-2", "2024-05-01T20:00:00Z", "cosy  evening", True, {"set_lights": LIGHTS_30, "play_music": JAZZ}),
    ("cosy-3", "2024-05-02T19:00:00Z", "cosy evening", False, {"set_lights": LIGHTS_60, "set_thermostat": HEAT_21}),
    ("cosy-4", "2024-05-02T21:00:00Z", "cosy evening", True, {"set_lights": LIGHTS_60, "play_music": JAZZ}),
    # malformed: arguments that are not JSON, a value out of range, prose with the object inside (no marker)
    ("cosy-5", "2024-05-03T19:00:00Z", "cosy evening", True, {"set_lights": 'JSON: {"brightness": 30,'}),
    ("cosy-6", "2024-05-03T19:05:00Z", "cosy evening", False, {"set_thermostat": '{"target": 99, "mode": "heat"}'}),
    ("movie-1", "2024-05-03T20:00:00Z", "movie night", True, {
        "set_lights": 'I would say {"brightness": 10, "scene": "movie"} here',
        "set_thermostat": 'JSON: {"target": 19, "mode": "heat"}',
    }),
    ("movie-2", "2024-05-03T21:00:00Z", "Movie night", False, {"set_lights": 'JSON: {"brightness": 40}'}),
    ("leave-1", "2024-05-04T08:00:00Z", "leaving for work", True, {"set_thermostat": 'JSON: {"mode": "off"}'}),
]  # fmt: skip
TOOLS = ("set_lights", "set_thermostat", "play_music")
NEUTRAL = {
    "set_lights": 'JSON: {"brightness": 0}',
    "set_thermostat": 'JSON: {"mode": "off"}',
    "play_music": 'JSON: {"genre": "none"}',
}


def smart_home_records() -> tuple[pl.DataFrame, pl.Series]:
    """The databuild-format records of REQUESTS (one per tool), and whether each was called."""
    rows, called = [], []
    for request_id, ts, intent, exported, calls in REQUESTS:
        for tool in TOOLS:
            response = calls.get(tool, NEUTRAL[tool])
            rows.append({"event_id": f"{request_id}-{tool}", "request_id": request_id, "ts": ts, "intent": intent,
                         "tool": tool, "response": response, "exported": exported})  # fmt: skip
            called.append(tool in calls)
    return pl.DataFrame(rows), pl.Series(called)


def test_a_hand_made_smart_home_traffic_builds_the_same_rows_and_sft(tmp_path: Path) -> None:
    records, called = smart_home_records()
    pack = json.loads((EXAMPLE / "tools.json").read_text(encoding="utf-8"))
    tools = offered_tools(pack["tools"] if isinstance(pack, dict) else pack)
    databuild_log = tmp_path / "databuild.jsonl"
    records.write_ndjson(databuild_log)
    results = {
        "databuild": built(tmp_path / "store-databuild", [databuild_log], [], "--tools", str(EXAMPLE / "tools.json"))
    }
    for log_format in FORMATS:
        log = tmp_path / f"{log_format}.jsonl"
        write_gateway_logs(GatewayTraffic(records=records, tools=tools, called=called), log_format, log)
        results[log_format] = built(
            tmp_path / f"store-{log_format}",
            [log],
            [outcomes_path(log, log_format)],
            "--tools",
            str(EXAMPLE / "tools.json"),
        )
    reference = results["databuild"]
    # by hand: 27 records; not valid: cosy-5's lights (not JSON), cosy-6's thermostat (target 99 > 30)
    assert reference["accounting"]["valid_rows"] == 25
    rows = {row["intent"]: row for row in reference["rows"]}
    # cosy evening: lights {30, 2200 K, relax} exported 2/2 beats {60} 1/2 and the neutral 0/1 (cosy-6); music jazz
    # 2/2 beats the neutral 2/4 (cosy-1, -3, -5, -6)
    assert rows["cosy evening"]["set_lights"] == '{"brightness":30,"colour_temperature":2200,"scene":"relax"}'
    assert rows["cosy evening"]["play_music"] == '{"genre":"jazz","volume":25}'
    assert rows["cosy evening"]["n_calls"] == 6
    # movie night: the prose answer's object counts (1/1 exported) against {40} (0/1)
    assert rows["movie night"]["set_lights"] == '{"brightness":10,"colour_temperature":2700,"scene":"movie"}'
    assert not rows["leaving for work"]["set_thermostat_used"]
    for log_format in FORMATS:
        assert results[log_format]["rows"] == reference["rows"], log_format
        assert results[log_format]["sft"] == reference["sft"], log_format
        assert results[log_format]["accounting"]["valid_rows"] == 25, log_format


# --- incremental builds over daily gateway files ------------------------------------------------------------------


def daily_files(folder: Path, log_format: str) -> list[tuple[Path, Path]]:
    """The simulated sample's traffic cut into three daily files (by the request's day), each with its outcomes."""
    from databuild.packs.colour.simulate import SimulationOptions, simulated_traffic

    traffic = simulated_traffic(SimulationOptions(rows=900, intents=120, seed=11, days=3))
    day = traffic.records["ts"].str.slice(0, 10)
    files = []
    for n, date in enumerate(sorted(day.unique().to_list()), start=1):
        keep = (day == date).arg_true()
        part = GatewayTraffic(
            records=traffic.records.gather(keep),
            tools=traffic.tools,
            called=traffic.called.gather(keep),  # type: ignore[union-attr]
        )
        log = folder / f"day{n}.jsonl"
        write_gateway_logs(part, log_format, log)
        files.append((log, outcomes_path(log, log_format)))
    return files


@pytest.mark.parametrize("log_format", ["openai", "langfuse"])
def test_incremental_builds_over_daily_files_give_the_full_builds_fingerprint(tmp_path: Path, log_format: str) -> None:
    days = daily_files(tmp_path, log_format)
    assert len(days) == 3
    logs, daily_outcomes = [log for log, _ in days], [o for _, o in days]
    full = built(tmp_path / "full", logs, daily_outcomes, "--seed", "3", "--full")
    # each day's outcomes beside its log: every build gives its days' outcomes files
    store = tmp_path / "store"
    reports = [built(store, logs[:n], daily_outcomes[:n], "--seed", "3")["report"] for n in (1, 2, 3)]
    assert reports[-1]["fingerprint"] == full["report"]["fingerprint"]
    assert open_store(store).manifest(reports[-1]["version"])["accounting"] == full["accounting"]
    # one outcomes export for the whole period, given to every build: the earlier days come from the cache
    period = tmp_path / "period_outcomes.jsonl"
    period.write_text("".join(o.read_text(encoding="utf-8") for o in daily_outcomes), encoding="utf-8")
    store = tmp_path / "store-period"
    reports = [built(store, logs[:n], [period], "--seed", "3")["report"] for n in (1, 2, 3)]
    assert [r["reuse"]["files_read"] for r in reports] == [1, 1, 1]  # each build reads only the new day
    assert [r["reuse"]["files_reused"] for r in reports] == [0, 1, 2]
    assert (
        reports[-1]["fingerprint"]
        == built(tmp_path / "full-period", logs, [period], "--seed", "3", "--full")["report"]["fingerprint"]
    )
