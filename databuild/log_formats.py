"""Write teacher traffic the way gateways log it: one chat completion per user request.

The input is traffic in databuild's own record shape (one record per tool call: `request_id`, `ts`, `intent`,
`tool`, `response` with the chain-of-thought before its `JSON:` marker, `exported`), so the same traffic can be
written in every format `snapshot` reads and must build the same dataset:

- `openai`: `{"request": {...}, "response": {...}}` pairs (Chat Completions);
- `litellm`: LiteLLM's `StandardLoggingPayload`, one per line (`id`, `trace_id`, `startTime`, `messages`,
  `model_parameters.tools`, `response`, `status`);
- `langfuse`: the observations export (`type: GENERATION`, `input`/`output` as JSON strings, `start_time`).

The mapping is the reverse of the snapshot's: a request's records become one completion offering `tools`; each
record with `called` true becomes one of its parallel `tool_calls` (the text after the response's last `JSON:`
marker, or the whole response when it has none, is the call's `arguments` string, malformed or not); a record
with `called` false is left uncalled (its output must be the tool's neutral one); the texts before the markers,
joined by new lines, are `message.content`. Outcomes go beside the log: `{request_id, exported}` records, or a
Langfuse scores export named `exported` (`data_type: BOOLEAN`, `value` 1 or 0).

Lines are built with Polars expressions a chunk of requests at a time (the offered `tools` repeat on every line,
so a whole file's lines are never held in memory at once).
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl

from databuild.store import replacing

GATEWAY_FORMATS = ("openai", "litellm", "langfuse")
OUTCOME_SCORE_NAME = "exported"  # the Langfuse score's name: snapshot's default --outcome-name
SYSTEM_PROMPT = "Call the tools that carry out the user's request."
CHUNK_REQUESTS = 50_000
MARKER = "JSON:"


@dataclass(frozen=True)
class GatewayTraffic:
    """Traffic to write as completions.

    records: databuild-shaped call records (`request_id`, `ts` as ISO-8601 UTC text, `intent`, `tool`, `response`,
        `exported`, optionally `teacher_model`, `user_id`), each request's records together;
    tools: the tools every request offered, in OpenAI's format;
    called: per record, whether the teacher called the tool (None: every record is a call);
    duplicates: record positions whose request is logged a second time, whole (a shipping retry), at the end;
    broken: record positions whose request is logged once more as a cut line (not JSON), after the duplicates.
    """

    records: pl.DataFrame
    tools: list[dict[str, Any]]
    called: pl.Series | None = None
    duplicates: Sequence[int] = ()
    broken: Sequence[int] = ()
    model: str = "gpt-3.5-turbo-0613"


def offered_tools(pack_tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A pack's tools as an app sends them to the API: the pack's own `x-` keys left out."""
    return [
        {"type": "function", "function": {k: v for k, v in tool["function"].items() if not k.startswith("x-")}}
        for tool in pack_tools
    ]


def outcomes_path(out: Path, log_format: str) -> Path:
    """Where the outcomes go: beside `out`, named after it without its .jsonl/.jsonl.gz extension
    (`logs/day1.jsonl` -> `logs/day1.outcomes.jsonl`; Langfuse: `logs/day1.scores.jsonl`)."""
    stem = out.name.removesuffix(".gz").removesuffix(".jsonl")
    return out.with_name(f"{stem}.{'scores' if log_format == 'langfuse' else 'outcomes'}.jsonl")


def write_gateway_logs(traffic: GatewayTraffic, log_format: str, out: Path) -> tuple[int, Path]:
    """Write `traffic` to `out` (.jsonl or .jsonl.gz) in `log_format`, and its outcomes beside it, atomically.

    Returns the number of lines written to `out` and the outcomes file's path.
    """
    if log_format not in GATEWAY_FORMATS:
        raise ValueError(f"unknown log format {log_format!r} (use one of {', '.join(GATEWAY_FORMATS)})")
    if not out.name.lower().endswith((".jsonl", ".jsonl.gz")):
        raise ValueError(f"--log-format {log_format} writes JSON Lines: use .jsonl or .jsonl.gz, not {out.name}")
    requests = _requests(traffic)
    outcomes = outcomes_path(out, log_format)
    extra = _extra_positions(traffic, requests)
    with replacing(outcomes) as outcome_handle, _lines_file(out) as handle:
        for start in range(0, requests.height, CHUNK_REQUESTS):
            _write_lines(handle, _lines(requests.slice(start, CHUNK_REQUESTS), traffic, log_format))
        _write_lines(handle, _lines(requests[extra["duplicate"]], traffic, log_format))
        broken = _lines(requests[extra["broken"]], traffic, log_format)
        _write_lines(handle, broken.str.slice(0, broken.str.len_bytes() // 2))
        _outcome_records(requests, log_format).write_ndjson(outcome_handle)
    return requests.height + len(extra["duplicate"]) + len(extra["broken"]), outcomes


@contextmanager
def _lines_file(out: Path) -> Iterator[BinaryIO]:
    with replacing(out) as handle:
        if out.name.lower().endswith(".gz"):
            with gzip.GzipFile(fileobj=handle, mode="wb", mtime=0) as zipped:
                yield zipped  # type: ignore[misc]
        else:
            yield handle


def _write_lines(handle: BinaryIO, lines: pl.Series) -> None:
    if lines.len():
        lines.to_frame("line").write_csv(handle, include_header=False, quote_style="never")


def _requests(traffic: GatewayTraffic) -> pl.DataFrame:
    """One row per request, in the order of its first record: id, time, intent, outcome, user, chain-of-thought
    and the `tool_calls` list (structs `{id, type, function: {name, arguments}}`; null when nothing was called)."""
    records = traffic.records.with_columns(called=pl.lit(True) if traffic.called is None else pl.Series(traffic.called))
    if "user_id" not in records.columns:
        records = records.with_columns(user_id=pl.lit(None, dtype=pl.String))
    calls = _calls(records)
    requests = calls.group_by("request_id", maintain_order=True).agg(
        pl.col("ts").first(),
        pl.col("intent").first(),
        pl.col("exported").any(),
        pl.col("user_id").first(),
        pl.col("thought").filter(pl.col("thought") != "").str.join("\n").alias("content"),
        pl.col("call").filter(pl.col("called")).alias("tool_calls"),
    )
    moment = pl.col("ts").str.to_datetime(time_zone="UTC")
    return requests.with_columns(
        created=moment.dt.epoch("s"),
        langfuse_time=moment.dt.strftime("%Y-%m-%d %H:%M:%S%.6f"),
        content=pl.when(pl.col("content") != "").then(pl.col("content")),
        tool_calls=pl.when(pl.col("tool_calls").list.len() > 0).then(pl.col("tool_calls")),
    )


def _calls(records: pl.DataFrame) -> pl.DataFrame:
    """Each record as a call: its `arguments` text (after the response's last marker, trimmed; the whole response
    when it has none), its chain-of-thought (the text before that marker) and its `tool_calls` item."""
    response = pl.col("response")
    has_marker = response.str.contains(MARKER, literal=True)
    after_last = response.str.split(MARKER).list.last()
    calls = records.with_columns(
        thought=pl.when(has_marker)
        .then(response.str.head(response.str.len_chars() - after_last.str.len_chars() - len(MARKER)))
        .otherwise(pl.lit(""))
        .str.strip_chars(),
        arguments=pl.when(has_marker).then(after_last.str.strip_chars()).otherwise(response),
    )
    return calls.with_columns(
        call=pl.struct(
            pl.concat_str([pl.lit("call_"), pl.col("request_id"), pl.lit("_"), pl.col("tool")]).alias("id"),
            pl.lit("function").alias("type"),
            pl.struct(pl.col("tool").alias("name"), pl.col("arguments")).alias("function"),
        )
    )


def _extra_positions(traffic: GatewayTraffic, requests: pl.DataFrame) -> dict[str, list[int]]:
    """The request rows logged again (`duplicate`) and as cut lines (`broken`), from the records' positions."""
    index = requests.select("request_id").with_row_index("request_row")
    extra: dict[str, list[int]] = {}
    for kind, positions in (("duplicate", traffic.duplicates), ("broken", traffic.broken)):
        ids = traffic.records["request_id"].gather(pl.Series(list(positions), dtype=pl.UInt32)).to_frame()
        extra[kind] = ids.join(index, on="request_id", how="left", maintain_order="left")["request_row"].to_list()
    return extra


def _lines(requests: pl.DataFrame, traffic: GatewayTraffic, log_format: str) -> pl.Series:
    """The log lines of `requests` in `log_format`."""
    tools = json.dumps(traffic.tools, separators=(",", ":"))
    line = {"openai": _openai_line, "litellm": _litellm_line, "langfuse": _langfuse_line}[log_format]
    return requests.select(line(tools, traffic.model).alias("line"))["line"]


def _openai_line(tools: str, model: str) -> pl.Expr:
    request = _spliced(pl.struct(pl.lit(model).alias("model"), _messages(), pl.col("user_id").alias("user")), tools)
    return pl.concat_str(
        [pl.lit('{"request":'), request, pl.lit(',"response":'), _completion(model).struct.json_encode(), pl.lit("}")]
    )


def _litellm_line(tools: str, model: str) -> pl.Expr:
    seconds = pl.col("created").cast(pl.Float64)
    payload = pl.struct(
        pl.concat_str([pl.lit("litellm-"), pl.col("request_id")]).alias("id"),
        pl.col("request_id").alias("trace_id"),
        pl.lit("completion").alias("call_type"),
        pl.lit(False).alias("stream"),
        pl.lit("success").alias("status"),
        seconds.alias("startTime"),
        (seconds + 1.25).alias("endTime"),
        pl.lit(model).alias("model"),
        pl.lit("teacher").alias("model_group"),
        pl.lit("openai").alias("custom_llm_provider"),
        _messages(),
        _completion(model).alias("response"),
        pl.struct(pl.col("user_id").alias("user")).alias("metadata"),
        pl.lit(None, dtype=pl.String).alias("error_str"),
    )
    return pl.concat_str(
        [
            payload.struct.json_encode().str.strip_suffix("}"),
            pl.lit(f',"model_parameters":{{"tools":{tools},"tool_choice":"auto"}}}}'),
        ]
    )


def _langfuse_line(tools: str, model: str) -> pl.Expr:
    messages = pl.struct(_messages()).struct.json_encode().str.strip_prefix("{")
    generation = pl.struct(
        pl.concat_str([pl.lit("gen-"), pl.col("request_id")]).alias("id"),
        pl.col("request_id").alias("trace_id"),
        pl.lit("databuild-simulated").alias("project_id"),
        pl.lit("GENERATION").alias("type"),
        pl.lit("OpenAI-generation").alias("name"),
        pl.col("langfuse_time").alias("start_time"),
        pl.col("langfuse_time").alias("end_time"),
        pl.lit("default").alias("environment"),
        pl.lit("DEFAULT").alias("level"),
        pl.lit(model).alias("provided_model_name"),
        pl.concat_str([pl.lit(f'{{"tools":{tools},'), messages]).alias("input"),
        _assistant_message().struct.json_encode().alias("output"),
    )
    return generation.struct.json_encode()


def _spliced(small: pl.Expr, tools: str) -> pl.Expr:
    """A request body: its small fields encoded, the constant `tools` text put in before its closing brace."""
    return pl.concat_str(
        [small.struct.json_encode().str.strip_suffix("}"), pl.lit(f',"tools":{tools},"tool_choice":"auto"}}')]
    )


def _messages() -> pl.Expr:
    system = pl.struct(pl.lit("system").alias("role"), pl.lit(SYSTEM_PROMPT).alias("content"))
    user = pl.struct(pl.lit("user").alias("role"), pl.col("intent").alias("content"))
    return pl.concat_list([system, user]).alias("messages")


def _assistant_message() -> pl.Expr:
    return pl.struct(pl.lit("assistant").alias("role"), pl.col("content"), pl.col("tool_calls"))


def _completion(model: str) -> pl.Expr:
    """The Chat Completions response body: one choice, its message, `finish_reason` by whether tools were called."""
    choice = pl.struct(
        pl.lit(0).alias("index"),
        _assistant_message().alias("message"),
        pl.when(pl.col("tool_calls").is_null())
        .then(pl.lit("stop"))
        .otherwise(pl.lit("tool_calls"))
        .alias("finish_reason"),
    )
    return pl.struct(
        pl.concat_str([pl.lit("chatcmpl-"), pl.col("request_id")]).alias("id"),
        pl.lit("chat.completion").alias("object"),
        pl.col("created"),
        pl.lit(model).alias("model"),
        pl.concat_list([choice]).alias("choices"),
    )


def _outcome_records(requests: pl.DataFrame, log_format: str) -> pl.DataFrame:
    """The outcome of every request, keyed as the format's request id: `{request_id, exported}` (openai: the
    completion's id; litellm: the trace id), or Langfuse scores (one per trace, on its generation)."""
    if log_format == "langfuse":
        return requests.select(
            pl.concat_str([pl.lit("score-"), pl.col("request_id")]).alias("id"),
            pl.col("langfuse_time").alias("timestamp"),
            pl.lit("databuild-simulated").alias("project_id"),
            pl.lit(OUTCOME_SCORE_NAME).alias("name"),
            pl.col("exported").cast(pl.Float64).alias("value"),
            pl.lit("API").alias("source"),
            pl.col("request_id").alias("trace_id"),
            pl.concat_str([pl.lit("gen-"), pl.col("request_id")]).alias("observation_id"),
            pl.lit("BOOLEAN").alias("data_type"),
        )
    prefix = "chatcmpl-" if log_format == "openai" else ""
    return requests.select(
        pl.concat_str([pl.lit(prefix), pl.col("request_id")]).alias("request_id"), pl.col("exported")
    )
