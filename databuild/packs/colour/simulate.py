"""Simulated teacher traffic: realistic, deterministic logs for the embedded sample, tests and benchmarks.

What makes it realistic (and what the snapshot must cope with):
- intents built from looks and modifiers; heavy-tailed popularity (Zipf), so r3 / r5 subsets are meaningful;
- surface variants of one intent (case, extra spaces, padding);
- per intent and tool a few distinct teacher outputs with different export propensities;
- a chain-of-thought before `JSON:` that differs on nearly every row;
- a small share of malformed responses (truncated JSON, out-of-range values, unknown LUT names, missing marker)
  and of bad records (duplicate events, missing fields).
Used shares land near the paper's (adjust ~92 %, selective_adjust ~32 %, filter ~66 %).
Everything is vectorized (NumPy + Polars): 10 M rows take seconds, not minutes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from databuild.log_formats import GatewayTraffic, offered_tools, outcomes_path, write_gateway_logs
from databuild.pack import COLOUR_PACK_FILE
from databuild.packs.colour.reference import lut_names, params
from databuild.store import check_writable_file

LOOKS = (
    "golden hour",
    "the matrix",
    "cold tone",
    "black and white",
    "dark atmosphere",
    "fire",
    "morocco",
    "sunset",
    "vintage film",
    "cyberpunk",
    "teal and orange",
    "summer vibes",
    "winter morning",
    "moody forest",
    "neon night",
    "desert heat",
    "underwater",
    "x-ray",
    "pastel dream",
    "noir",
    "autumn leaves",
    "spring bloom",
    "foggy harbor",
    "tropical beach",
    "retro 80s",
    "sepia memories",
    "blade runner",
    "wes anderson",
    "horror movie",
    "cozy cabin",
    "northern lights",
    "city lights",
    "rainy day",
    "candle light",
    "miami vice",
    "polaroid",
    "high contrast",
    "soft glow",
    "washed out",
    "bleach bypass",
    "cinematic",
    "dreamy haze",
    "arctic blue",
    "emerald city",
    "rose gold",
    "lavender fields",
    "stormy sky",
    "midnight blue",
    "sunrise",
    "faded memories",
    "film noir",
    "hollywood glam",
    "documentary",
    "instagram",
    "vhs tape",
    "infrared",
    "thermal camera",
    "duotone pink",
    "comic book",
    "night vision",
)
MODIFIERS = (
    "",
    "",
    "",
    "warm",
    "cool",
    "dark",
    "bright",
    "soft",
    "moody",
    "vivid",
    "subtle",
    "strong",
    "faded",
    "dramatic",
    "light",
    "deep",
    "muted",
    "epic",
    "old",
    "clean",
)
SUFFIXES = ("", "", "", "", " look", " vibe", " style", " feel", " mood", " effect", " tone", " colors")
COTS = (
    "The user asks for ",
    "I consider the mood and the light of ",
    "Thinking about warmth, contrast and colour balance for ",
    "A specific palette is suggested by ",
    "The key is the tonal range and saturation of ",
)
COT_MIDDLES = (
    "Raising temperature adds warmth, ",
    "Lower exposure darkens the scene, ",
    "Contrast shapes the mood, ",
    "Saturation makes colours pop, ",
    "A filter can help if one is close, ",
    "Shadows carry the atmosphere, ",
)
PREFIX = {"adjust": "ADJUST: ", "selective_adjust": "SELECTIVE_ADJUST: ", "filter": "FILTER: "}
USED_SHARE = {"adjust": 0.97, "selective_adjust": 0.28, "filter": 0.71}
TOOLS = ("adjust", "selective_adjust", "filter")
NEUTRAL_TEXTS = ("{}", json.dumps({"name": "none", "intensity": 0}))  # what `_random_output` answers when unused


@dataclass(frozen=True)
class SimulationOptions:
    rows: int = 60_000
    intents: int = 3_000
    seed: int = 0
    malformed_share: float = 0.03
    bad_record_share: float = 0.002
    start: str = "2024-01-01T00:00:00Z"
    days: int = 120


def _intent_names(count: int, rng: np.random.Generator) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Intent phrasings, with the look and the modifier each is built from (what its ground truth follows)."""
    names: list[str] = []
    looks: list[int] = []
    modifiers: list[int] = []
    seen: set[str] = set()
    while len(names) < count:
        look = int(rng.integers(len(LOOKS)))
        modifier = int(rng.integers(len(MODIFIERS)))
        suffix = SUFFIXES[rng.integers(len(SUFFIXES))]
        name = f"{MODIFIERS[modifier]} {LOOKS[look]}{suffix}".strip()
        if name in seen:
            name = f"{name} {len(names)}"  # long tail: near-unique phrasings
        seen.add(name)
        names.append(name)
        looks.append(look)
        modifiers.append(modifier)
    return names, np.array(looks), np.array(modifiers)


def _random_output(tool: str, used: bool, rng: np.random.Generator, anchor: np.ndarray, preset: int) -> str:
    """One teacher output: a JSON object near the intent's anchor parameters (or the 'not used' answer)."""
    if tool == "filter":
        if not used:
            return json.dumps({"name": "none", "intensity": 0})
        names = lut_names()
        name = names[preset] if rng.random() < 0.7 else names[1 + rng.integers(len(names) - 1)]
        return json.dumps({"name": name, "intensity": int(rng.choice([15, 40, 50, 60, 80]))})
    if not used:
        return "{}"
    slots = params(tool)
    values = np.clip(anchor[: len(slots)] + rng.normal(0, 8, len(slots)), -100, 100).round().astype(int)
    keep = rng.random(len(slots)) < (0.7 if tool == "adjust" else 0.35)
    keep[int(rng.integers(len(slots)))] = True
    obj: dict[str, Any] = {}
    for slot, value, kept in zip(slots, values, keep, strict=True):
        value = int(np.clip(abs(value) if slot.minimum >= 0 else value, slot.minimum, slot.maximum))
        if not kept or value == 0:
            continue
        if slot.sub is None:
            obj[slot.key] = value
        else:
            obj.setdefault(slot.key, {})[slot.sub] = value
    if not obj:
        first = slots[0]
        obj = {first.key: 10} if first.sub is None else {first.key: {first.sub: 10}}
    return json.dumps(obj)


def _malformed(text: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """The teacher's typical breakages, by kind (-1: none; 3, a missing marker, is applied by the caller)."""
    empty = text == "{}"
    return (
        pl.when(kind == 0)  # truncated JSON
        .then(text.str.slice(0, (text.str.len_chars() // 2).clip(lower_bound=1)))
        .when(kind == 1)  # out-of-range value
        .then(
            pl.when(empty)
            .then(pl.lit('{"contrast": 250}'))
            .otherwise(text.str.replace("}", ', "contrast": 250}', literal=True))
        )
        .when(kind == 2)  # unknown LUT name; for the other tools an unknown key
        .then(
            pl.when(text.str.contains('"name"', literal=True))
            .then(pl.lit('{"name": "super_sepia", "intensity": 60}'))
            .otherwise(pl.lit('{"glow": 30}'))
        )
        .when(kind == 4)  # a Python dict instead of JSON: balanced, not parseable
        .then(pl.when(empty).then(pl.lit("{'contrast': 5}")).otherwise(text.str.replace_all('"', "'", literal=True)))
        .otherwise(text)
    )


@dataclass(frozen=True)
class _Intents:
    """The simulated intents: their phrasings and, per intent and tool, the teacher's candidate outputs."""

    names: list[str]
    n_candidates: np.ndarray  # (intent, tool): how many distinct outputs, 1-4
    outputs: dict[str, list[list[str]]]  # tool -> per intent its candidate output texts
    quality: np.ndarray  # (intent, tool, candidate): the export propensity of each candidate


@dataclass(frozen=True)
class _Requests:
    """The user requests: the intent of each, the candidate each of its three calls chose, and the export."""

    intent: np.ndarray
    choice: np.ndarray  # (request, tool)
    exported: np.ndarray


def simulate(options: SimulationOptions) -> pl.DataFrame:
    """Teacher-call log records (one per tool call) as a Polars frame, deterministic in `options`.

    Steps (one random generator, drawn in this order): the intents and their candidate outputs; the requests,
    drawn by popularity; three call rows per request; the response texts (surface variants, breakages, the
    chain-of-thought); the log records; a few bad records on top.
    """
    traffic = simulated_traffic(options)
    return _with_bad_records(traffic.records, traffic.duplicates, traffic.broken)


def simulated_traffic(options: SimulationOptions) -> GatewayTraffic:
    """The simulated records before the bad ones, and which records are logged again (duplicates) or broken.
    A call is left uncalled in a completion when its output is the tool's neutral answer and not malformed."""
    rng = np.random.default_rng(options.seed)
    intents = _simulated_intents(max(1, options.intents), rng)
    requests = _simulated_requests(intents, max(1, options.rows // 3), rng)
    calls = _with_responses(_call_rows(intents, requests, options, rng))
    records = _log_records(calls, options.seed)
    duplicates, broken = _bad_record_picks(records.height, options, rng)
    called = calls.select((pl.col("malformed") != -1) | ~pl.col("json").is_in(NEUTRAL_TEXTS))
    return GatewayTraffic(
        records=records,
        tools=offered_tools(json.loads(COLOUR_PACK_FILE.read_text(encoding="utf-8"))["tools"]),
        called=called.to_series(),
        duplicates=duplicates,
        broken=broken,
    )


def _simulated_intents(n_intents: int, rng: np.random.Generator) -> _Intents:
    """Intents with, per tool, 1-4 distinct candidate outputs, each with its own export propensity.

    Semantics: an intent's parameters follow its look, shifted by its modifier ("warm", "dark", …), so similar
    phrasings have similar ground truth; tool use follows the look, with a few intents deviating.
    """
    names, look_of, modifier_of = _intent_names(n_intents, rng)
    look_anchors = rng.normal(0, 30, (len(LOOKS), 16))
    modifier_shift = rng.normal(0, 10, (len(MODIFIERS), 16))
    anchors = look_anchors[look_of] + modifier_shift[modifier_of] + rng.normal(0, 4, (n_intents, 16))
    look_presets = rng.integers(1, len(lut_names()), len(LOOKS))  # the LUT preset closest to each look
    look_uses = {tool: rng.random(len(LOOKS)) < USED_SHARE[tool] for tool in TOOLS}
    used = {tool: look_uses[tool][look_of] ^ (rng.random(n_intents) < 0.08) for tool in TOOLS}
    n_candidates = rng.integers(1, 5, (n_intents, 3))
    outputs = _candidate_outputs(used, anchors, look_presets[look_of], n_candidates, rng)
    quality = rng.beta(2, 2, (n_intents, 3, 4))
    return _Intents(names=names, n_candidates=n_candidates, outputs=outputs, quality=quality)


def _candidate_outputs(
    used: dict[str, np.ndarray],
    anchors: np.ndarray,
    presets: np.ndarray,
    n_candidates: np.ndarray,
    rng: np.random.Generator,
) -> dict[str, list[list[str]]]:
    """Per tool and intent, the candidate output texts; a candidate after the first may use a tool the intent
    does not (15 %)."""
    outputs: dict[str, list[list[str]]] = {tool: [] for tool in TOOLS}
    for tool_index, tool in enumerate(TOOLS):
        for i in range(len(anchors)):
            outputs[tool].append(
                [
                    _random_output(
                        tool, bool(used[tool][i]) or (k > 0 and rng.random() < 0.15), rng, anchors[i], int(presets[i])
                    )
                    for k in range(n_candidates[i, tool_index])
                ]
            )
    return outputs


def _simulated_requests(intents: _Intents, n_requests: int, rng: np.random.Generator) -> _Requests:
    """Requests drawn by a Zipf-like popularity over intents (a few very popular, a long tail seen once); a
    request is exported more often when its chosen candidates are good."""
    n_intents = len(intents.names)
    popularity = 1.0 / np.arange(1, n_intents + 1) ** 1.1
    popularity = popularity[rng.permutation(n_intents)]
    request_intent = rng.choice(n_intents, size=n_requests, p=popularity / popularity.sum())
    n_candidates = intents.n_candidates[request_intent]
    choice = np.minimum((rng.random((n_requests, 3)) * n_candidates).astype(int), n_candidates - 1)
    chosen_quality = intents.quality[request_intent[:, None], np.arange(3)[None, :], choice].mean(axis=1)
    exported = rng.random(n_requests) < (0.05 + 0.6 * chosen_quality)
    return _Requests(intent=request_intent, choice=choice, exported=exported)


def _call_rows(
    intents: _Intents, requests: _Requests, options: SimulationOptions, rng: np.random.Generator
) -> pl.DataFrame:
    """Three tool calls per request: the intent's phrasing, the chosen output's text and what varies per call."""
    n_requests = len(requests.intent)
    n_rows = n_requests * 3
    row_request = np.repeat(np.arange(n_requests), 3)
    row_tool = np.tile(np.arange(3), n_requests)
    row_intent = requests.intent[row_request]
    output_index = _output_index(intents, row_tool, row_intent, requests.choice[row_request, row_tool])
    malformed = rng.random(n_rows) < options.malformed_share
    malformed_kind = np.where(malformed, rng.integers(0, 5, n_rows), -1)
    surface_kind = rng.integers(0, 10, n_requests)
    start = np.datetime64(options.start.replace("Z", ""))
    seconds = rng.integers(0, options.days * 86400, n_requests)[row_request]
    return pl.DataFrame(
        {
            "row": np.arange(n_rows),
            "request": row_request,
            "tool": pl.Series(TOOLS).gather(row_tool),
            "base": pl.Series(intents.names).gather(row_intent),
            "surface_kind": surface_kind[row_request],
            "json": pl.Series(_flat_outputs(intents)).gather(output_index),
            "malformed": malformed_kind,
            "cot": rng.integers(0, len(COTS), n_rows),
            "mid": rng.integers(0, len(COT_MIDDLES), n_rows),
            "noise": rng.integers(0, 1_000_000, n_rows),
            "exported": requests.exported[row_request],
            "ts": (start + seconds.astype("timedelta64[s]")).astype("datetime64[ms]"),
            "user": rng.integers(0, max(1, n_requests // 3), n_requests)[row_request],
        }
    )


def _flat_outputs(intents: _Intents) -> list[str]:
    """Every candidate output text, by tool, then intent, then candidate."""
    return [text for tool in TOOLS for per_intent in intents.outputs[tool] for text in per_intent]


def _output_index(
    intents: _Intents, row_tool: np.ndarray, row_intent: np.ndarray, row_choice: np.ndarray
) -> np.ndarray:
    """Each row's position in `_flat_outputs`: output texts are gathered by index (Polars), never materialized as
    per-row Python objects."""
    n_intents = len(intents.names)
    counts = np.array([[len(intents.outputs[tool][i]) for i in range(n_intents)] for tool in TOOLS]).ravel()
    offset_table = (np.cumsum(counts) - counts).reshape(3, n_intents)
    return offset_table[row_tool, row_intent] + row_choice


def _with_responses(calls: pl.DataFrame) -> pl.DataFrame:
    """The calls with their breakages applied, the intent as the user typed it, and the teacher's response."""
    calls = calls.with_columns(
        json=_malformed(pl.col("json"), pl.col("malformed")), with_marker=pl.col("malformed") != 3
    )
    calls = calls.with_columns(intent=_surface_variant(pl.col("base"), pl.col("surface_kind")))
    return calls.with_columns(response=_response())


def _surface_variant(base: pl.Expr, kind: pl.Expr) -> pl.Expr:
    """One intent, typed differently: title case, padded, upper case, doubled spaces, or as is."""
    return (
        pl.when(kind == 0)
        .then(base.str.to_titlecase())
        .when(kind == 1)
        .then(pl.concat_str([pl.lit(" "), base, pl.lit(" ")]))
        .when(kind == 2)
        .then(base.str.to_uppercase())
        .when(kind == 3)
        .then(base.str.replace_all(" ", "  "))
        .otherwise(base)
    )


def _response() -> pl.Expr:
    """The teacher's response: tool prefix, a chain-of-thought that differs per row, the marker, the JSON."""
    return pl.concat_str(
        [
            pl.col("tool").replace_strict(PREFIX),
            pl.col("cot").replace_strict(dict(enumerate(COTS)), return_dtype=pl.String),
            pl.col("intent"),
            pl.lit(". "),
            pl.col("mid").replace_strict(dict(enumerate(COT_MIDDLES)), return_dtype=pl.String),
            pl.lit("so after weighing "),
            pl.col("noise").cast(pl.String),
            pl.lit(" options I settle on these values. "),
            pl.when(pl.col("with_marker")).then(pl.lit("JSON: ")).otherwise(pl.lit("Answer: ")),
            pl.col("json"),
        ]
    )


def _log_records(calls: pl.DataFrame, seed: int) -> pl.DataFrame:
    """The raw log record columns, in their contract's order."""
    return calls.select(
        pl.concat_str([pl.lit(f"evt-{seed}-"), pl.col("row").cast(pl.String)]).alias("event_id"),
        pl.concat_str([pl.lit(f"req-{seed}-"), pl.col("request").cast(pl.String)]).alias("request_id"),
        pl.col("ts").dt.strftime("%Y-%m-%dT%H:%M:%SZ").alias("ts"),
        pl.col("intent"),
        pl.col("tool"),
        pl.col("response"),
        pl.col("exported"),
        pl.lit("gpt-3.5-turbo-0613").alias("teacher_model"),
        pl.lit("cot-v3").alias("prompt_version"),
        pl.concat_str([pl.lit("u"), pl.col("user").cast(pl.String)]).alias("user_id"),
    )


def _bad_record_picks(height: int, options: SimulationOptions, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """Which records are duplicated (log shipping retries) and which are copied with a missing field."""
    n_bad = int(height * options.bad_record_share)
    if n_bad == 0:
        return [], []
    duplicates = rng.choice(height, n_bad // 2 + 1, replace=False)
    broken = rng.choice(height, n_bad // 2 + 1, replace=False)
    return duplicates.tolist(), broken.tolist()


def _with_bad_records(records: pl.DataFrame, duplicates: Sequence[int], broken: Sequence[int]) -> pl.DataFrame:
    """The records, then the duplicated events, then the broken copies (no request_id)."""
    if not duplicates:
        return records
    broken_records = records.gather(broken).with_columns(
        pl.lit(None, dtype=pl.String).alias("request_id"),
        pl.concat_str([pl.col("event_id"), pl.lit("-nometa")]).alias("event_id"),
    )
    return pl.concat([records, records.gather(duplicates), broken_records])


def check_output_path(out: Path) -> None:
    """A log file's type (.jsonl, .jsonl.gz or .parquet) and that it can be written."""
    if not out.name.lower().endswith((".parquet", ".jsonl.gz", ".jsonl")):
        raise ValueError(f"unsupported output type: {out} (use .jsonl, .jsonl.gz or .parquet)")
    check_writable_file(out, "--out")


def write_records(records: pl.DataFrame, out: Path) -> int:
    """Write log records to `out` (its type by its name) atomically; returns the row count."""
    name = out.name.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        if name.endswith(".parquet"):
            records.write_parquet(tmp)
        elif name.endswith(".jsonl.gz"):
            records.write_ndjson(tmp, compression="gzip", check_extension=False)
        else:
            records.write_ndjson(tmp)
        tmp.replace(out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return records.height


def write_logs(options: SimulationOptions, out: Path, log_format: str = "databuild") -> int:
    """Write simulated logs to `out` atomically; returns the number of records (lines) written.

    `databuild`: one record per tool call (.jsonl, .jsonl.gz or .parquet). `openai`, `litellm`, `langfuse`: one
    completion per request (.jsonl or .jsonl.gz) with the outcomes beside it (`databuild.log_formats`).
    """
    if log_format != "databuild":
        check_writable_file(out, "--out")
        check_writable_file(outcomes_path(out, log_format), "--out")
        return write_gateway_logs(simulated_traffic(options), log_format, out)[0]
    check_output_path(out)
    return write_records(simulate(options), out)
