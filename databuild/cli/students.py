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
    run_dir = _run_dir(spec, store)
    from train.student import TrainedStudent

    student: Any = TrainedStudent(run_dir)
    return student


def _run_dir(spec: str, store: Store) -> Path:
    for candidate in (Path(spec), store.runs_dir / spec):
        if candidate.is_dir():
            return candidate
    raise DatabuildError(
        f"student {spec!r} is neither 'knn' nor a trained run directory (no such directory: {spec}"
        f" or {store.runs_dir / spec})"
    )
