"""Experiment tracking for `databuild train --report-to`: the training loop is ours, so no transformers callback
does it; each tool is driven through its own client.

- `tensorboard`: event files in `<run dir>/tensorboard/` (torch's `SummaryWriter`); `tensorboard --logdir` reads them.
- `wandb`: a Weights & Biases run (project `$WANDB_PROJECT`, default `databuild`; `WANDB_MODE=offline` works).
- `mlflow`: an MLflow run (`$MLFLOW_TRACKING_URI`, experiment `$MLFLOW_EXPERIMENT_NAME`, default `databuild`).

Every optimizer step logs `train/step_loss`; every epoch logs its train loss, speed and its evaluation (overall per
subset; selection, quality, final, precision and recall per tool; invalid outputs), all at the global step.
`run.json` records the tool and where its run lives (`tracking`), so `--resume` continues the same tracked run.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, Protocol

from databuild.errors import DatabuildError

REPORT_TO = ("none", "tensorboard", "wandb", "mlflow")
TENSORBOARD_DIR = "tensorboard"
TOOL_METRICS = ("selection", "quality", "final", "precision", "recall")
DEFAULT_PROJECT = "databuild"


class Tracker(Protocol):
    description: dict[str, Any]  # recorded in run.json as `tracking`

    def log(self, scalars: dict[str, float], step: int) -> None: ...

    def close(self) -> None: ...


def check_report_to(report_to: str) -> None:
    """A known tool whose package imports here; otherwise an error naming the pip command (before any work)."""
    if report_to not in REPORT_TO:
        raise DatabuildError(f"--report-to must be one of {', '.join(REPORT_TO)}, not {report_to!r}")
    if report_to == "none":
        return
    try:
        importlib.import_module(report_to)
    except ImportError:
        raise DatabuildError(
            f"--report-to {report_to} needs the {report_to} package, which is not installed: "
            f"pip install {report_to}  (or pip install 'databuild[{report_to}]')"
        ) from None


def epoch_scalars(entry: dict[str, Any]) -> dict[str, float]:
    """One epoch of `metrics.json` as scalars: the loss, the speed and the evaluation."""
    scalars = {"epoch": float(entry["epoch"]), "train/loss": float(entry["train_loss"])}
    if entry.get("train_tokens_per_second") is not None:
        scalars["train/tokens_per_second"] = float(entry["train_tokens_per_second"])
    scalars["eval/generation_seconds"] = float(entry["generation_seconds"])
    metrics = entry.get("eval")
    if not metrics:
        return scalars
    for subset, scores in metrics["subsets"].items():
        scalars[f"eval/{subset}/overall"] = float(scores["overall"])
    for tool, scores in metrics["subsets"]["all"]["tools"].items():
        scalars |= {f"eval/all/{tool}/{name}": float(scores[name]) for name in TOOL_METRICS}
    scalars |= {f"eval/invalid_outputs/{tool}": float(n) for tool, n in metrics["invalid_outputs"].items()}
    return scalars


class NoTracker:
    description: dict[str, Any] = {"tool": "none"}

    def log(self, scalars: dict[str, float], step: int) -> None:
        pass

    def close(self) -> None:
        pass


class TensorBoardTracker:
    def __init__(self, run_dir: Path, start_step: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        log_dir = run_dir / TENSORBOARD_DIR
        # a resumed run hides what the killed one logged after its last finished epoch (purged from the view)
        self.writer = SummaryWriter(log_dir=str(log_dir), purge_step=start_step + 1 if start_step else None)
        self.description = {"tool": "tensorboard", "log_dir": str(log_dir)}

    def log(self, scalars: dict[str, float], step: int) -> None:
        for name, value in scalars.items():
            self.writer.add_scalar(name, value, step)
        if "epoch" in scalars:
            self.writer.flush()  # an epoch's scalars are on disk when the epoch's checkpoint is

    def close(self) -> None:
        self.writer.close()


class WandbTracker:
    def __init__(self, run_dir: Path, record: dict[str, Any]) -> None:
        import wandb

        previous = record.get("tracking") or {}
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT") or DEFAULT_PROJECT,
            name=record["run_id"],
            id=previous.get("run_id"),
            resume="allow",
            dir=str(run_dir),
            config={"version": record["version"], "fingerprint": record["fingerprint"], **record["options"]},
        )
        self.description = {"tool": "wandb", "project": self.run.project, "run_id": self.run.id, "url": self.run.url}

    def log(self, scalars: dict[str, float], step: int) -> None:
        self.run.log(scalars, step=step)

    def close(self) -> None:
        self.run.finish()


class MlflowTracker:
    def __init__(self, record: dict[str, Any]) -> None:
        import mlflow

        self.mlflow = mlflow
        previous = record.get("tracking") or {}
        experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME") or DEFAULT_PROJECT
        mlflow.set_experiment(experiment)
        run = mlflow.start_run(run_id=previous.get("run_id"), run_name=record["run_id"])
        if not previous:
            mlflow.log_params({"version": record["version"], "fingerprint": record["fingerprint"], **record["options"]})
        self.description = {
            "tool": "mlflow",
            "tracking_uri": mlflow.get_tracking_uri(),
            "experiment": experiment,
            "run_id": run.info.run_id,
        }

    def log(self, scalars: dict[str, float], step: int) -> None:
        self.mlflow.log_metrics(scalars, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


def open_tracker(report_to: str, run_dir: Path, record: dict[str, Any], start_step: int = 0) -> Tracker:
    """The tracker for `--report-to` (`record`: the run's `run.json`, with `tracking` when resuming from the
    optimizer step `start_step`)."""
    check_report_to(report_to)
    try:
        if report_to == "tensorboard":
            return TensorBoardTracker(run_dir, start_step)
        if report_to == "wandb":
            return WandbTracker(run_dir, record)
        if report_to == "mlflow":
            return MlflowTracker(record)
    except Exception as exc:  # not logged in, no server, a backend the client refuses…: say which tool and why
        raise DatabuildError(f"--report-to {report_to}: the run could not start: {type(exc).__name__}: {exc}") from exc
    return NoTracker()
