"""`databuild` command line. Each command lives in its own module and registers itself on `app`.

Heavy libraries (duckdb, polars, datasets, torch) are imported inside the commands, so `databuild --help` stays fast.
"""

from __future__ import annotations

import sys

import click

from databuild.cli import (  # noqa: F401  (each module registers its commands)
    augment,
    diff,
    eval,
    predict,
    runs,
    show,
    simulate,
    snapshot,
    train,
    versions,
)
from databuild.cli.app import app

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Console entry point: usage errors become `Error: …` with exit code 1, like every other user error."""
    try:
        exit_code = app(args=argv, standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        sys.stderr.write("Error: aborted\n")
        sys.exit(1)
    except click.ClickException as exc:
        sys.stderr.write(f"Error: {exc.format_message()}\n")
        sys.exit(1)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)
