"""A lower bound for `databuild snapshot` at N rows: the work any exact implementation must do, each part in its
cheapest form, next to the floor of `bench/snapshot.py`.

    python bench/snapshot_bound.py --rows 10000000

Parts (each one is a strict subset of what the snapshot has to do; none of them is optional):
- start: a Python process that imports DuckDB, Polars and PyArrow (not `datasets`, 0.6 s more: a writer of its
  on-disk format could do without it).
- the one pass: read the seven required columns of every row, cut every response after its `JSON:` marker and
  keep 64-bit hashes of the tail, event id, request id and intent with the tool, flag, timestamp and row number:
  integers only, cheaper than the exact strings the snapshot keeps.
- duplicate events: group the event-id hashes (first occurrences need every row's event id).
- n_calls and candidate counts: two aggregates over the narrow rows.
Left out, so the bound stays low: parsing, validating and canonicalizing the distinct outputs, normalizing
intents, exact string checks, the quarantine and writing the version. Where the bound alone uses the whole 2x-floor
budget, no exact snapshot meets it on this machine. Uses the Parquet file `bench/snapshot.py` caches in bench/out/.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from snapshot import FLOOR, logs, timed  # noqa: E402  (bench/snapshot.py, beside this file)

TAIL = "CASE WHEN strpos(response, 'JSON:') > 0 THEN substr(response, strpos(response, 'JSON:') + 5) ELSE response END"
PARTS = (
    (
        "the one pass: 7 columns read, responses cut, 64-bit hashes kept (narrow rows)",
        f"""CREATE TABLE narrow AS
            SELECT file_row_number AS line, hash(event_id) AS event_hash, hash(request_id) AS request_hash,
                   hash(intent) AS intent_hash, tool, exported, ts, hash({TAIL}) AS tail_hash
            FROM read_parquet($file, file_row_number = true)""",
    ),
    (
        "duplicate events: group the event-id hashes",
        "SELECT count(*) FROM (SELECT event_hash FROM narrow GROUP BY event_hash HAVING count(*) > 1)",
    ),
    (
        "n_calls: distinct requests per intent",
        "SELECT count(*) FROM (SELECT intent_hash, count(DISTINCT request_hash) FROM narrow GROUP BY intent_hash)",
    ),
    (
        "candidates: calls and exports per intent, tool and output",
        """SELECT count(*) FROM (SELECT intent_hash, tool, tail_hash, count(*), count(*) FILTER (WHERE exported)
                                 FROM narrow GROUP BY ALL)""",
    ),
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--intents", type=int, default=50_000)
    parser.add_argument("--memory-limit", default="800MB")
    args = parser.parse_args()
    path = logs(args.rows, args.intents)

    import duckdb

    floor = timed([sys.executable, "-c", FLOOR, str(path)])[0]
    imports = "import duckdb, polars, pyarrow"
    starts = []
    for _ in range(3):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", imports], check=True)
        starts.append(time.perf_counter() - started)
    timings = [(f"start: `python -c '{imports}'` (median of 3)", sorted(starts)[1])]
    con = duckdb.connect(config={"preserve_insertion_order": False})
    con.execute(f"SET threads = {os.cpu_count()}")
    con.execute("SET memory_limit = $limit", {"limit": args.memory_limit})
    for name, sql in PARTS:
        started = time.perf_counter()
        con.execute(sql, {"file": str(path)} if "$file" in sql else None).fetchall()
        timings.append((name, time.perf_counter() - started))
    bound = sum(seconds for _, seconds in timings)

    print(f"Lower bound, {args.rows:,} rows, {os.cpu_count()} cores, DuckDB memory limit {args.memory_limit}\n")
    print("| part | seconds |\n|---|---:|")
    for name, seconds in timings:
        print(f"| {name} | {seconds:.2f} |")
    print(f"| **lower bound (sum)** | **{bound:.2f}** |")
    print(f"| floor (`bench/snapshot.py`: one pass reading rows + parsing JSON) | {floor:.2f} |")
    print(f"| 2x floor (the target) | {2 * floor:.2f} |")
    print(f"| lower bound / floor | {bound / floor:.2f}x |")


if __name__ == "__main__":
    main()
