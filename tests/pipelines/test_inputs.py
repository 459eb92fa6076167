"""Teacher-log inputs as a hostile but fair user gives them: size bombs, broken gzip, FIFOs and devices, a BOM,
glob characters in real file names, and timestamps that are or are not ISO-8601 instants.

Expected values are derived by hand from the first nine fixture lines: golden hour's requests g1, g2, g3, each
with its three tool calls (lines 1-9), all valid.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

import pipelines.inputs
from databuild.cli import app
from databuild.sqlrun import connect, run_model

FIXTURE = Path(__file__).parents[1] / "fixtures" / "teacher_logs.jsonl"
GOLDEN = FIXTURE.read_bytes().split(b"\n")[:9]  # g1..g3 x adjust, selective_adjust, filter: 9 valid calls
runner = CliRunner()


def snapshot_json(store: Path, *logs: Path) -> dict:
    args = [arg for path in logs for arg in ("--logs", str(path))]
    result = runner.invoke(app, ["snapshot", "--store", str(store), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def snapshot_error(store: Path, *logs: str) -> str:
    args = [arg for path in logs for arg in ("--logs", path)]
    result = runner.invoke(app, ["snapshot", "--store", str(store), *args])
    assert result.exit_code == 1, result.output
    assert result.stderr.count("\n") == 1, result.stderr  # one line
    return result.stderr.strip()


def test_splitting_lines_never_holds_a_line_over_the_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipelines.inputs, "BLOCK_BYTES", 16)
    monkeypatch.setattr(pipelines.inputs, "MAX_LINE_BYTES", 64)
    monkeypatch.setattr(pipelines.inputs, "OVERLONG_KEPT", 4)
    lines = [b"a" * 64, b"b" * 65, b"", b"c" * 1000, b"d", b"e" * 100]  # the last one without a newline
    blocks = list(pipelines.inputs._split_lines(io.BytesIO(b"\n".join(lines))))
    flat = [line for block in blocks for line in block]
    assert flat == [
        b"a" * 64,  # exactly the cap: kept whole
        "bbbb… (65 bytes: over the 64 byte line cap)".encode(),
        b"",  # blank lines keep their place (line numbers) and are dropped later
        "cccc… (1000 bytes: over the 64 byte line cap)".encode(),
        b"d",
        "eeee… (100 bytes: over the 64 byte line cap)".encode(),
    ]
    assert all(len(block) >= 1 for block in blocks) and len(blocks) > 3  # streamed in several blocks


def test_a_line_over_the_cap_is_one_bad_record_and_memory_stays_bounded(tmp_path: Path) -> None:
    # a gzip "bomb": 64 MiB of one response in a small file, between valid calls
    size = 64 << 20
    bomb = tmp_path / "bomb.jsonl.gz"
    head = b'{"event_id": "big", "request_id": "big", "ts": "2024-03-01T10:00:00Z", "response": "'
    tail = b'", "intent": "golden hour", "tool": "adjust", "exported": true}'
    with gzip.open(bomb, "wb", compresslevel=1) as handle:
        handle.write(b"\n".join(GOLDEN[:3]) + b"\n")
        handle.write(head)
        for _ in range(size >> 20):
            handle.write(b"x" * (1 << 20))
        handle.write(tail + b"\n")
        handle.write(b"\n".join(GOLDEN[3:]) + b"\n")
    assert bomb.stat().st_size < 1 << 20
    small = tmp_path / "small.jsonl"
    small.write_bytes(b"\n".join(GOLDEN))
    snapshot_json(tmp_path / "warm-up", small)  # the libraries' imports are not part of the measure
    tracemalloc.start()
    try:
        report = snapshot_json(tmp_path / "store", bomb)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the whole line read into Python would be 64 MiB of bytes plus 64 MiB of text at least
    assert peak < 40 << 20, f"peak Python memory {peak >> 20} MiB"
    assert report["accounting"]["valid_rows"] == 9
    assert report["accounting"]["quarantined"] == {"bad_record": 1}
    quarantine = pl.read_parquet(tmp_path / "store" / "versions" / "v1" / "quarantine.parquet")
    assert quarantine.select("source_file", "source_line", "reason").rows() == [(str(bomb), 4, "bad_record")]
    record = quarantine["record"][0]
    line_size = len(head) + size + len(tail)
    assert record.startswith(head.decode()) and record.endswith(f"({line_size} bytes: over the 1048576 byte line cap)")
    assert len(record) < 1100  # the first KiB and the note, not the line


def test_a_truncated_or_corrupt_gzip_names_the_file(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl.gz"
    good.write_bytes(gzip.compress(b"\n".join(GOLDEN) + b"\n"))
    body = gzip.compress(b"\n".join(GOLDEN * 200) + b"\n")  # more than the 64 KiB checked up front
    truncated = tmp_path / "truncated.jsonl.gz"
    truncated.write_bytes(body[: len(body) * 9 // 10])
    message = snapshot_error(tmp_path / "store", str(good), str(truncated))
    assert message.startswith(f"Error: {truncated} is a truncated or corrupt gzip file (")
    corrupt = tmp_path / "corrupt.jsonl.gz"
    corrupt.write_bytes(body[:-8] + bytes(8))  # the CRC and the size trailer zeroed
    message = snapshot_error(tmp_path / "store", str(corrupt), str(good))
    assert message.startswith(f"Error: {corrupt} is a truncated or corrupt gzip file (")
    assert not (tmp_path / "store" / "versions").exists()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_a_fifo_or_a_device_is_refused_not_read(tmp_path: Path, kind: str) -> None:
    if kind == "fifo":
        path = tmp_path / "logs.jsonl"
        os.mkfifo(path)  # nobody writes: opening it would block forever
    else:
        path = Path("/dev/zero")  # endless
    result = subprocess.run(
        [sys.executable, "-m", "databuild", "snapshot", "--logs", str(path), "--store", str(tmp_path / "store")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr == f"Error: {path} is not a regular file (a FIFO, device or socket cannot be a log)\n"


def test_a_utf8_bom_at_the_start_of_a_file_is_not_part_of_the_first_record(tmp_path: Path) -> None:
    logs = tmp_path / "bom.jsonl"
    logs.write_bytes(b"\xef\xbb\xbf" + b"\n".join(GOLDEN) + b"\n")
    report = snapshot_json(tmp_path / "store", logs)
    assert report["accounting"]["valid_rows"] == 9 and report["accounting"]["quarantined"] == {}


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet"])
def test_a_path_with_glob_characters_that_exists_is_that_file(tmp_path: Path, suffix: str) -> None:
    records = [json.loads(line) | {"exported": bool(json.loads(line)["exported"])} for line in GOLDEN]
    literal, lookalike = tmp_path / f"a[1]{suffix}", tmp_path / f"a1{suffix}"  # the glob a[1] matches a1
    for path, rows in ((literal, records), (lookalike, records[:6])):
        if suffix == ".jsonl":
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        else:
            pl.DataFrame(rows).write_parquet(path)
    report = snapshot_json(tmp_path / "store", literal)
    assert report["accounting"]["valid_rows"] == 9  # a1 holds 6
    manifest = json.loads((tmp_path / "store" / "versions" / "v1" / "manifest.json").read_text())
    assert [(i["path"], i["rows"]) for i in manifest["inputs"]] == [(str(literal), 9)]


INSTANTS = [
    ("2024-03-06T02:08:07Z", "2024-03-06 02:08:07+00"),
    ("2024-03-06T02:08:07.5+01:00", "2024-03-06 01:08:07.5+00"),
    ("2024-03-06 02:08:07+0100", "2024-03-06 01:08:07+00"),
    ("2024-03-06T02:08", "2024-03-06 02:08:00+00"),  # no offset: UTC
    ("2024-03-06", "2024-03-06 00:00:00+00"),
    ("20240306T020807Z", "2024-03-06 02:08:07+00"),  # ISO-8601 basic
    ("20240306T020807.25-0130", "2024-03-06 03:38:07.25+00"),
    ("20240306T0208Z", "2024-03-06 02:08:00+00"),
    ("epoch", None),
    ("infinity", None),
    ("-infinity", None),
    ("2024-03-01 12:00 America/New_York", None),
    ("2024-03-01 12:00 EST", None),
    ("2024-3-6 2:8:7", None),
    ("yesterday", None),
    ("20240306", None),
]


def test_iso_instant_reads_iso_8601_and_nothing_else() -> None:
    con = connect()
    run_model(con, "03_iso_instant")
    texts = [text for text, _ in INSTANTS]
    got = con.execute("SELECT CAST(iso_instant(t) AS VARCHAR) FROM unnest($t) AS u(t)", {"t": texts}).fetchall()
    assert [row[0] for row in got] == [expected for _, expected in INSTANTS]


def test_timestamps_that_are_not_iso_instants_are_bad_type(tmp_path: Path) -> None:
    records = [json.loads(line) for line in GOLDEN]
    texts = ["20240306T020807Z", "20240306T0208+0100", "epoch", "infinity", "2024-03-01 12:00 America/New_York"]
    for record, ts in zip(records, texts, strict=False):
        record["ts"] = ts
    logs = tmp_path / "ts.jsonl"
    logs.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    report = snapshot_json(tmp_path / "store", logs)
    assert report["accounting"]["valid_rows"] == 6 and report["accounting"]["quarantined"] == {"bad_type": 3}
