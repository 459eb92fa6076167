"""`databuild snapshot`: teacher logs -> a new dataset version in the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from databuild.cli.app import app
from databuild.cli.common import (
    StoreOption,
    TableOrJsonOption,
    check_choice,
    options_from,
    print_json,
    recorded_command,
    stdout_console,
    store_path,
    user_errors,
)
from databuild.errors import DatabuildError

# The options, named like `pipelines.snapshot.SnapshotOptions`' fields (the command builds its options from them).
_Logs = Annotated[
    list[str] | None,
    typer.Option(
        "--logs",
        help="JSONL / JSONL.gz / Parquet files or globs (repeatable). Default: the embedded simulated sample.",
    ),
]
_Since = Annotated[str | None, typer.Option("--since", help="Only calls at or after this ISO date.")]
_Until = Annotated[str | None, typer.Option("--until", help="Only calls up to this ISO date (inclusive).")]
_Rank = Annotated[str, typer.Option("--rank", help="Rank candidates by the 'raw' export rate or its 'wilson' bound.")]
_TestFraction = Annotated[float, typer.Option("--test-fraction", help="Share of intents in the test split (0..1).")]
_Seed = Annotated[int, typer.Option("--seed", help="Seed of the stable split.")]
_MemoryLimit = Annotated[
    str | None,
    typer.Option("--memory-limit", help="DuckDB memory limit, e.g. 1GB (default: a quarter of RAM, at most 800MB)."),
]
_Tools = Annotated[
    Path | None,
    typer.Option(
        "--tools",
        help="Tool pack: an OpenAI `tools` list as JSON, or from-logs: the tools the logged requests offered, each "
        "name's most recent definition (default: the built-in colour pack).",
    ),
]
_Full = Annotated[bool, typer.Option("--full", help="Read every file again instead of reusing the per-file cache.")]
_LockTimeout = Annotated[
    float | None,
    typer.Option("--lock-timeout", help="Seconds to wait for a store lock another process holds (default: no limit)."),
]
_Executor = Annotated[
    str,
    typer.Option("--executor", help="Who reads the files the cache lacks: 'local' (here) or 'spark' (a task each)."),
]
_SparkMaster = Annotated[
    str | None,
    typer.Option("--spark-master", help="With --executor spark: the master, e.g. 'local[2]' or spark://host:7077."),
]
_SparkRemote = Annotated[
    str | None, typer.Option("--spark-remote", help="With --executor spark: a Spark Connect server, sc://host:15002.")
]
_SparkEntries = Annotated[
    str,
    typer.Option(
        "--spark-entries",
        help="With --executor spark: tasks return their cache entries to the 'driver', or write them into the "
        "'store' (on a filesystem every worker mounts at the same path).",
    ),
]
_SparkConf = Annotated[
    list[str] | None,
    typer.Option("--spark-conf", help="With --executor spark: a setting KEY=VALUE of the session (repeatable)."),
]

_LogFormat = Annotated[
    str,
    typer.Option(
        "--log-format", help="auto (per file, from its first records), databuild, openai, litellm or langfuse."
    ),
]
_PairKeys = Annotated[
    str | None,
    typer.Option("--pair-keys", help="openai: the request and response keys of a pair, as REQ,RESP."),
]
_BatchInput = Annotated[
    str | None,
    typer.Option(
        "--batch-input", help="openai: the Batch API input file whose custom_id the --logs output lines join."
    ),
]
_Outcomes = Annotated[
    list[str] | None,
    typer.Option(
        "--outcomes",
        help="{request_id, exported} records or a Langfuse scores export (JSONL, CSV, Parquet; repeatable).",
    ),
]
_OutcomeName = Annotated[str, typer.Option("--outcome-name", help="The Langfuse score that means exported.")]
_OutcomeThreshold = Annotated[
    float, typer.Option("--outcome-threshold", help="A score at or above this value means exported.")
]
_OutcomeField = Annotated[
    str | None,
    typer.Option(
        "--outcome-field", help="A dotted path in each log record holding its outcome, e.g. metadata.exported."
    ),
]
_TeacherModel = Annotated[
    list[str] | None,
    typer.Option("--teacher-model", help="Keep only completions of models matching this GLOB (repeatable)."),
]


@app.command()
def snapshot(
    ctx: typer.Context,
    logs: _Logs = None,
    store: StoreOption = None,
    since: _Since = None,
    until: _Until = None,
    rank: _Rank = "raw",
    test_fraction: _TestFraction = 0.1,
    seed: _Seed = 0,
    memory_limit: _MemoryLimit = None,
    tools: _Tools = None,
    full: _Full = False,
    lock_timeout: _LockTimeout = None,
    log_format: _LogFormat = "auto",
    pair_keys: _PairKeys = None,
    batch_input: _BatchInput = None,
    outcomes: _Outcomes = None,
    outcome_name: _OutcomeName = "exported",
    outcome_threshold: _OutcomeThreshold = 1.0,
    outcome_field: _OutcomeField = None,
    teacher_model: _TeacherModel = None,
    executor: _Executor = "local",
    spark_master: _SparkMaster = None,
    spark_remote: _SparkRemote = None,
    spark_entries: _SparkEntries = "driver",
    spark_conf: _SparkConf = None,
    output_format: TableOrJsonOption = "table",
) -> None:
    """Build a dataset version from teacher logs.

    Example: databuild snapshot --logs 'logs/*.jsonl.gz' --since 2024-01-01 --store store
    Gateway logs: databuild snapshot --logs completions.jsonl --outcomes outcomes.csv
    On Spark: databuild snapshot --executor spark --spark-master 'local[2]' --logs 'days/*.parquet'
    """
    with user_errors():
        from databuild.pack import load_pack
        from databuild.store import open_store
        from pipelines.logged_pack import FROM_LOGS
        from pipelines.snapshot import SnapshotOptions

        check_choice("--format", output_format, ("table", "json"))
        file_executor = _file_executor(executor, spark_master, spark_remote, spark_entries, spark_conf or [])
        if tools is not None and str(tools) != FROM_LOGS:
            load_pack(tools)  # a bad pack is refused before any work
        the_store = open_store(store_path(store))
        tools_file = str(tools) if tools is not None else None
        options = options_from(
            SnapshotOptions, ctx.params, logs=_log_patterns(logs, the_store), tools=tools_file,
            outcomes=tuple(outcomes or ()), teacher_models=tuple(teacher_model or ()),
        )  # fmt: skip
        result = _run_with_progress(the_store, options, recorded_command(), file_executor)
        report = _report(result, the_store.pack(result.published.name), tools_file)
        if output_format == "json":
            print_json(report)
        else:
            _print_report(report)
            if result.accounting["quarantined"].get("schema_violation"):
                _print_first_violation(the_store, result.published.name, options)


def _file_executor(executor: str, master: str | None, remote: str | None, entries: str, conf: list[str]) -> Any:
    """None for --executor local (the build reads its files itself), else the Spark executor (pyspark, and Java for
    a master, checked now, before any work)."""
    check_choice("--executor", executor, ("local", "spark"))
    if executor == "local":
        given = [name for name, value in (("--spark-master", master), ("--spark-remote", remote)) if value]
        given += ["--spark-entries"] if entries != "driver" else []
        given += ["--spark-conf"] if conf else []
        if given:
            raise DatabuildError(f"{given[0]} needs --executor spark")
        return None
    from pipelines.spark_executor import SparkExecutor, parse_conf

    return SparkExecutor(master=master, remote=remote, entries=entries, conf=parse_conf(conf))


def _log_patterns(logs: list[str] | None, the_store: Any) -> list[str]:
    """The `--logs` given, or the store's embedded simulated sample (said on stderr)."""
    from pipelines.snapshot import default_sample

    if logs:
        return list(logs)
    sample = default_sample(the_store)
    typer.echo(f"no --logs given: using the embedded simulated sample {sample}", err=True)
    return [str(sample)]


def _report(result: Any, pack: Any, tools_file: str | None) -> dict[str, Any]:
    """The `--format json` object of a snapshot (the table is rendered from it too). `pack.source`: where the
    pack came from: `built-in`, the pack file given, or `from-logs`."""
    return {
        "version": result.published.name,
        "unchanged": result.published.unchanged,
        "fingerprint": result.published.fingerprint,
        "path": str(result.published.path),
        "accounting": result.accounting,
        "intents": result.intents,
        "used_all": result.used_all,
        "reuse": result.reuse,
        "inputs": [{key: item[key] for key in ("path", "format", "file_type", "rows")} for item in result.inputs],
        **({"outcomes": result.outcomes} if result.outcomes is not None else {}),
        "executor": result.executor,
        "pack": {"name": pack.name, "source": tools_file or "built-in", "tools": list(pack.names)},
    }


def _print_first_violation(the_store: Any, version: str, options: Any) -> None:
    """On stderr: the first schema violation's key and value, and the pack file that lists the valid ones."""
    import polars as pl

    from pipelines.violations import first_violation, pack_file_label

    quarantine_file = the_store.quarantine_path(version)
    quarantine = pl.scan_parquet(quarantine_file).filter(pl.col("reason") == "schema_violation")
    hint = first_violation(quarantine.head(1).collect(), the_store.pack(version), pack_file_label(options.tools))
    if hint:
        typer.echo(hint, err=True)


def _run_with_progress(the_store: Any, options: Any, command: str, executor: Any = None) -> Any:
    from pipelines.snapshot import STEPS, build_snapshot

    console = _stderr()

    def warn(message: str) -> None:
        console.print(message, markup=False, highlight=False, soft_wrap=True)

    if not console.is_terminal:  # no progress noise in pipes, logs and CI (nor the import of rich.progress)
        return build_snapshot(the_store, options, command, warn=warn, executor=executor)
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
        console=console,
    ) as progress:
        task = progress.add_task("snapshot", total=len(STEPS) + 1)

        def on_step(step: str) -> None:
            progress.update(task, description=f"snapshot: {step}", advance=1)

        return build_snapshot(the_store, options, command, on_step, warn, executor)


def _stderr() -> Any:
    from databuild.cli.common import stderr_console

    return stderr_console()


def _print_report(report: dict[str, Any]) -> None:
    from rich.table import Table

    from databuild.display import used_share

    console = stdout_console()
    if report["unchanged"]:
        console.print(f"unchanged: identical to {report['version']}")
    else:
        from databuild.display import rich_text

        console.print(rich_text(f"created {report['version']}  {report['fingerprint'][:19]}…  {report['path']}"))
    acc = report["accounting"]
    console.print(
        f"input rows {acc['input_rows']}: valid {acc['valid_rows']}, "
        f"quarantined {sum(acc['quarantined'].values())}"
        + (f" (outside --since/--until: {acc['outside_window']} more)" if acc["outside_window"] else "")
    )
    for reason, count in acc["quarantined"].items():
        console.print(f"  {reason:<18}{count:>10}")
    formats = {item["format"] for item in report["inputs"]}
    if formats != {"databuild"}:  # gateway logs: each file's format
        console.print("inputs: " + ", ".join(f"{item['path']} ({item['format']})" for item in report["inputs"]))
    if "outcomes" in report:
        outcomes = report["outcomes"]
        console.print(f"requests that matched an outcome: {outcomes['matched_requests']}")
    reuse = report["reuse"]
    console.print(
        f"files read {reuse['files_read']} ({reuse['rows_read']} rows), "
        f"reused from the cache {reuse['files_reused']} ({reuse['rows_reused']} rows)"
    )
    if report["executor"]["name"] != "local":
        ran = report["executor"]
        console.print(
            f"executor {ran['name']} ({ran['master']}): {ran['tasks']} tasks, "
            f"{ran['task_seconds']['total']:.1f} s in tasks (slowest {ran['task_seconds']['max']:.1f} s)"
        )
    if report["pack"]["source"] == "from-logs":
        offered = ", ".join(report["pack"]["tools"])
        console.print(
            f"pack: from the logs ({offered}), stored in the version; "
            f"`databuild show {report['version']} --pack` prints it"
        )
    intents = report["intents"]
    excluded = ", ".join(f"{r} {c}" for r, c in intents["excluded"].items()) or "none"
    console.print(f"intents seen {intents['seen']}: kept {intents['kept']}, excluded {excluded}")
    table = Table(title="Used / All", title_justify="left")
    table.add_column("split")
    tools = [key.removesuffix("_used") for key in next(iter(report["used_all"].values())) if key != "rows"]
    for tool in tools:
        table.add_column(tool, justify="right")
    for split, counts in report["used_all"].items():
        total = counts["rows"]
        table.add_row(
            split,
            *[used_share(counts[f"{tool}_used"], total) for tool in tools],
        )
    console.print(table)
