"""Build the student a command names: `knn` (the embedded student) or a trained run (a directory or a run id).

Commands build students here and hand them down; nothing below the CLI reaches up into `train/` for one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from databuild.errors import DatabuildError
from databuild.store import Store
from databuild.students import KNN_SPEC, KnnStudent, Student


def load_student(spec: str, store: Store, version: str, show_progress: bool = True) -> Student:
    """`knn` over `version`'s train rows, or a trained run: a directory or a run id in the store."""
    if spec == KNN_SPEC:
        return KnnStudent(store, version, show_progress)
    from train.student import TrainedStudent

    student: Any = TrainedStudent(run_dir(spec, store))
    return student


def run_dir(spec: str, store: Store) -> Path:
    """The run a student spec names (the one resolver of run directories: `train.runs.resolve_run_dir`)."""
    from train.runs import resolve_run_dir

    try:
        return resolve_run_dir(store, spec)
    except DatabuildError:
        raise DatabuildError(
            f"student {spec!r} is neither 'knn' nor a trained run directory (no such directory: {spec}"
            f" or {store.runs_dir / spec})"
        ) from None


def trained_on(spec: str, store: Store) -> str | None:
    """The version a trained student was trained on (None for `knn`)."""
    if spec == KNN_SPEC:
        return None
    from train.runs import read_run

    version = read_run(run_dir(spec, store)).get("version")
    return str(version) if version else None
