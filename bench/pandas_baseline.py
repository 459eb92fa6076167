"""A straightforward pandas implementation of the snapshot's selection, the baseline `bench/snapshot.py` times.

Per row, in Python: type checks, `json.loads` of the output after the last `JSON:` marker, JSON Schema validation
(`jsonschema`, the same schema files) and canonicalization; then pandas groupbys pick, per kept intent and tool,
the output with the highest export rate (ties: more exports, more calls, smaller JSON). It writes
{"intent\\ttool": canonical JSON} so the benchmark can check that both implementations select the same ground truth.

    python bench/pandas_baseline.py LOGS.parquet OUT.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jsonschema
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from databuild.normalize import MAX_INTENT_CHARS, normalize_intent  # noqa: E402
from databuild.packs.colour.reference import TOOLS, canonical_object, dumps, load_schema  # noqa: E402

VALIDATORS = {tool: jsonschema.Draft202012Validator(load_schema(tool)) for tool in TOOLS}
DECODER = json.JSONDecoder(
    parse_constant=lambda name: (_ for _ in ()).throw(ValueError(name)),  # NaN / Infinity are not JSON
    object_pairs_hook=lambda pairs: dict(pairs) if len({k for k, _ in pairs}) == len(pairs) else {"\0dup": 1},
)


def canonical_output(tool: str, response: str) -> str | None:
    marker = response.rfind("JSON:")
    text = response[marker + 5 :] if marker >= 0 else response
    start = text.find("{")
    if start < 0:
        return None
    try:
        obj, _ = DECODER.raw_decode(text, start)
    except ValueError:
        return None
    if not isinstance(obj, dict) or not VALIDATORS[tool].is_valid(obj):
        return None
    return dumps(canonical_object(tool, obj))


def main() -> None:
    frame = pd.read_parquet(sys.argv[1])
    typed = (
        frame[["event_id", "request_id", "intent", "tool", "response"]].map(lambda v: isinstance(v, str)).all(axis=1)
        & frame["exported"].map(lambda v: isinstance(v, bool) or v in (0, 1))
        & pd.to_datetime(frame["ts"], errors="coerce", utc=True).notna()
    )
    rows = frame[typed].drop_duplicates("event_id", keep="first")
    rows = rows[rows["tool"].isin(TOOLS)].copy()
    rows["intent_n"] = [normalize_intent(t) for t in rows["intent"]]
    rows = rows[(rows["intent_n"] != "") & (rows["intent_n"].str.len() <= MAX_INTENT_CHARS)].copy()
    rows["output"] = [canonical_output(tool, r) for tool, r in zip(rows["tool"], rows["response"], strict=True)]
    valid = rows[rows["output"].notna()].copy()
    valid["exported"] = valid["exported"].astype(bool)
    stats = valid.groupby("intent_n").agg(any_export=("exported", "any"), tools=("tool", "nunique"))
    kept = stats[stats["any_export"] & (stats["tools"] == 3)].index
    candidates = (
        valid[valid["intent_n"].isin(kept)]
        .groupby(["intent_n", "tool", "output"])
        .agg(calls=("event_id", "size"), exports=("exported", "sum"))
        .reset_index()
    )
    candidates["rate"] = candidates["exports"] / candidates["calls"]
    candidates = candidates.sort_values(
        ["intent_n", "tool", "rate", "exports", "calls", "output"], ascending=[True, True, False, False, False, True]
    )
    truth = candidates.groupby(["intent_n", "tool"]).head(1)
    result = {f"{i}\t{t}": o for i, t, o in zip(truth["intent_n"], truth["tool"], truth["output"], strict=True)}
    Path(sys.argv[2]).write_text(json.dumps(result))


if __name__ == "__main__":
    main()
