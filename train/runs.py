"""Run records: `run.json` (what trained on what, how, where) and `metrics.json` (one entry per epoch).

A run directory (`STORE/runs/<run-id>/` unless `--output` says otherwise):
`run.json`, `metrics.json`, `checkpoints/epoch-N/` (model or LoRA adapter + tokenizer; the newest one also holds
`training_state.pt` for `--resume`). When the run ends only the selected epoch and the last one remain.
"""

from __future__ import annotations

import json
import platform
import re
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.store import Store, atomic_write_text

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
CHECKPOINTS_DIR = "checkpoints"
TRAINING_STATE_FILE = "training_state.pt"
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
    return json.loads(path.read_text(encoding="utf-8"))


def read_run(run_dir: Path) -> dict[str, Any]:
    path = run_dir / RUN_FILE
    if not path.is_file():
        raise DatabuildError(f"{run_dir} is not a training run (no {RUN_FILE})")
    return read_json(path)


def read_metrics(run_dir: Path) -> dict[str, Any]:
    path = run_dir / METRICS_FILE
    return read_json(path) if path.is_file() else {"epochs": []}


def resolve_run_dir(store: Store, spec: str) -> Path:
    """A run given as a directory or as a run id inside `STORE/runs/`."""
    for candidate in (Path(spec).expanduser(), store.runs_dir / spec):
        if (candidate / RUN_FILE).is_file():
            return candidate
    raise DatabuildError(
        f"no training run at {spec!r} (looked for {Path(spec) / RUN_FILE} and {store.runs_dir / spec})"
    )


def run_summary(run_dir: Path) -> dict[str, Any]:
    """One line of `databuild runs`."""
    run = read_run(run_dir)
    return {
        "run_id": run.get("run_id", run_dir.name),
        "run_dir": str(run_dir),
        "status": run.get("status"),
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
