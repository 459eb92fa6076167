"""Find the data folders that ship beside the code: `sql/` (the models) and `schemas/` (the raw-record, manifest and
predictions schemas).

In a wheel they live in `databuild/_resources/<kind>`; in a checkout (editable install) they are the top-level
folders of the repository. Everything that reads them goes through `resource_dir` / `resource_path`. (Tool packs
and prompt templates live inside their packages: `databuild/packs/`, `augment/prompts/`.)
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(kind: str) -> Path:
    """Return the folder of one resource kind: `sql` or `schemas`."""
    for candidate in (_PACKAGE_DIR / "_resources" / kind, _PACKAGE_DIR.parent / kind):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"resource folder {kind!r} not found beside {_PACKAGE_DIR}")


def resource_path(kind: str, name: str) -> Path:
    return resource_dir(kind) / name


def read_sql(name: str) -> str:
    """The text of one SQL model, e.g. `read_sql("10_calls")`."""
    return resource_path("sql", f"{name}.sql").read_text(encoding="utf-8")
