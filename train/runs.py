"""Run records: `run.json` (what trained on what, how, where) and `metrics.json` (one entry per epoch).

A run directory (`STORE/runs/<run-id>/` unless `--output` says otherwise):
`run.json`, `metrics.json`, `checkpoints/epoch-N/` (model or LoRA adapter + tokenizer; the newest one also holds
`training_state.pt` for `--resume`). When the run ends only the selected epoch and the last one remain.

A running run records its `pid` and `host` in run.json, and its heartbeat is run.json's modification time,
refreshed every `heartbeat_s` seconds: `databuild runs` shows a `running` run whose process is gone (same host) or
whose heartbeat stopped (another host) as `interrupted`.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.store import Store, atomic_write_text, read_json_object

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
CHECKPOINTS_DIR = "checkpoints"
TRAINING_STATE_FILE = "training_state.pt"
HEARTBEAT_S = 30.0  # run.json's modification time is refreshed this often while a run trains
STALE_BEATS = 10  # heartbeats missed before a run counts as interrupted
LIBRARIES = ("databuild", "torch", "transformers", "peft", "bitsandbytes", "accelerate", "datasets", "tokenizers")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def checkpoint_dir(run_dir: Path, epoch: int) -> Path:
    return run_dir / CHECKPOINTS_DIR / f"epoch-{epoch}"


def checkpoint_epochs(run_dir: Path) -> list[int]:
    """Epochs that have a checkpoint on disk, oldest first."""
    root = run_dir / CHECKPOINTS_DIR
    if not root.is_dir():
        return []
    return sorted(int(m.group(1)) for p in root.iterdir() if (m := re.fullmatch(r"epoch-(\d+)", p.name)))


def new_run_id(runs_dir: Path, version: str, model: str) -> str:
    """`<UTC time>-<version>-<model name>`, made unique inside `runs_dir`."""
    model_name = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(model.rstrip("/")).name).strip("-") or "model"
    base = f"{datetime.now(UTC).strftime('%Y%m%d-%H%M%S')}-{version}-{model_name}"
    run_id, suffix = base, 2
    while (runs_dir / run_id).exists():
        run_id, suffix = f"{base}-{suffix}", suffix + 1
    return run_id


def library_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def device_description(device: Any, num_processes: int) -> dict[str, Any]:
    import torch

    described: dict[str, Any] = {"type": device.type, "num_processes": num_processes, "platform": platform.platform()}
    if device.type == "cuda":
        described["name"] = torch.cuda.get_device_name(device)
        described["visible_gpus"] = torch.cuda.device_count()
    else:
        described["name"] = platform.processor() or platform.machine()
        described["torch_threads"] = torch.get_num_threads()
    return described


def write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, default=str) + "\n")


def read_json(path: Path) -> dict[str, Any]:
    return read_json_object(path)


def read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise DatabuildError(f"{run_dir} is not a training run (no {RUN_FILE})")
    run = read_json(path)
    for key in ("options", "data", "generation", "device"):
        if not isinstance(run.get(key, {}), dict):
            raise DatabuildError(f"{path} is corrupt: {key!r} is not an object")
    return run


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / METRICS_FILE
    metrics = read_json(path) if path.is_file() else {"epochs": []}
    if not isinstance(metrics.get("epochs"), list):
        raise DatabuildError(f"{path} is corrupt: 'epochs' is not a list")
    return metrics


def resolve_run_dir(store: Store, spec: str) -> Path:
    """A run given as a directory or as a run id inside `STORE/runs/`."""
    for candidate in (Path(spec).expanduser(), store.runs_dir / spec):
        if (candidate / RUN_FILE).is_file():
            return candidate
    raise DatabuildError(
        f"no training run at {spec!r} (looked for {Path(spec) / RUN_FILE} and {store.runs_dir / spec})"
    )


@contextmanager
def heartbeat_scope() -> Iterator[Callable[[Path], None]]:
    """`beat(path)` inside it keeps refreshing `path`'s modification time, from a thread, until the scope ends."""
    stop = threading.Event()

    def beat(path: Path) -> None:
        threading.Thread(target=_touch_until, args=(path, stop), name="run-heartbeat", daemon=True).start()

    try:
        yield beat
    finally:
        stop.set()


def _touch_until(path: Path, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_S):
        try:
            os.utime(path)
        except OSError:
            return  # the run directory went away


def process_fields() -> dict[str, Any]:
    """What run.json records about the process that trains, for `live_status`."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "heartbeat_s": HEARTBEAT_S}


def live_status(run: dict[str, Any], run_file: Path) -> Any:
    """The recorded status, except that a `running` run whose process is gone is `interrupted`."""
    status = run.get("status")
    if status != "running" or not isinstance(run.get("pid"), int):
        return status
    if run.get("host") == socket.gethostname() and not _pid_alive(run["pid"]):
        return "interrupted"
    stale_after = STALE_BEATS * float(run.get("heartbeat_s") or HEARTBEAT_S)
    return "interrupted" if time.time() - run_file.stat().st_mtime > stale_after else "running"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return pid > 0  # someone else's process (PermissionError), or no valid pid at all
    return True


def run_summary(run_dir: Path) -> dict[str, Any]:
    """One line of `databuild runs`."""
    run = read_run(run_dir)
    return {
        "run_id": run.get("run_id", run_dir.name),
        "run_dir": str(run_dir),
        "status": live_status(run, run_dir / RUN_FILE),
        "version": run.get("version"),
        "fingerprint": run.get("fingerprint"),
        "model": run.get("options", {}).get("model"),
        "arch": run.get("arch"),
        "mode": run.get("mode"),
        "epochs_done": run.get("epochs_done", 0),
        "epochs": run.get("options", {}).get("epochs"),
        "selected_epoch": run.get("selected_epoch"),
        "overall": run.get("selected_overall"),
        "created_at": run.get("created_at"),
    }


def list_runs(store: Store) -> list[dict[str, Any]]:
    """Every run under `STORE/runs/`, oldest first (run ids start with their UTC start time)."""
    if not store.runs_dir.is_dir():
        return []
    runs = [run_summary(p) for p in sorted(store.runs_dir.iterdir()) if (p / RUN_FILE).is_file()]
    return sorted(runs, key=lambda r: (r["created_at"] or "", r["run_id"]))
