"""Benchmark: the openai generator against a local OpenAI-compatible server that answers after 300 ms.

1 000 generations at --concurrency 32 should finish within 1.5x the ideal 1000 / 32 x 0.3 s = 9.4 s, and a re-run
of the same requests should send zero requests (every answer comes from the store's response cache).

    .venv/bin/python bench/augment_llm.py [--generations 1000] [--concurrency 32] [--delay 0.3]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from augment.cache import ResponseCache  # noqa: E402
from augment.openai_generator import Endpoint, OpenAIGenerator  # noqa: E402
from databuild.store import open_store  # noqa: E402

REPO = Path(__file__).resolve().parents[1]


class ServerProcess:
    """The loopback server in its own process (as a real endpoint would be): its threads do not share our GIL.
    It counts nothing for us, so requests are counted from the generator's accounting (made = sent)."""

    def __init__(self, delay: float) -> None:
        self.delay = delay

    def __enter__(self) -> str:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.llm_server", str(self.delay)], cwd=REPO, stdout=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        return self.process.stdout.readline().strip()

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--generations", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--delay", type=float, default=0.3)
    args = parser.parse_args()
    sources = [f"look number {n}" for n in range(args.generations)]
    ideal = args.generations / args.concurrency * args.delay
    rows = []
    with tempfile.TemporaryDirectory() as directory, ServerProcess(args.delay) as base_url:
        store = open_store(Path(directory))
        endpoint = Endpoint(
            model="bench-model", base_url=base_url, api_key="sk-bench", timeout=30, concurrency=args.concurrency
        )
        for run in ("first run", "re-run"):
            started = time.perf_counter()
            generation = OpenAIGenerator(endpoint, ResponseCache.for_store(store)).propose(sources, 1)
            seconds = time.perf_counter() - started
            accounting = generation.accounting
            rows.append(
                (
                    run,
                    args.generations,
                    args.concurrency,
                    accounting.made,
                    accounting.cached,
                    accounting.failed,
                    seconds,
                    ideal if run == "first run" else 0.0,
                    accounting.attempts,
                )
            )
    print(f"Generator vs a local OpenAI-compatible server answering after {args.delay * 1000:.0f} ms")
    print()
    print("| run | generations | concurrency | sent | cached | failed | seconds | ideal s | ratio | HTTP attempts |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for run, generations, concurrency, sent, cached, failed, seconds, ideal_s, attempts in rows:
        ratio = f"{seconds / ideal_s:.2f}x" if ideal_s else "-"
        print(
            f"| {run} | {generations} | {concurrency} | {sent} | {cached} | {failed} | {seconds:.2f} | "
            f"{ideal_s:.2f} | {ratio} | {attempts} |"
        )
    first_ratio = rows[0][6] / rows[0][7]
    print()
    print(
        f"target: first run ≤ 1.5x ideal → {'met' if first_ratio <= 1.5 else 'NOT met'} ({first_ratio:.2f}x); "
        f"re-run sends 0 requests → {'met' if rows[1][3] == 0 else 'NOT met'} ({rows[1][3]})"
    )


if __name__ == "__main__":
    main()
