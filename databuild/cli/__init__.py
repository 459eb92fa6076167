"""`databuild` command line. Each command lives in its own module and registers itself on `app`.

Heavy libraries (duckdb, polars, datasets, torch) are imported inside the commands, so `databuild --help` stays fast.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType

import typer

from databuild.cli import (  # noqa: F401  (each module registers its commands)
    augment,
    diff,
    eval,
    export,
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
    signal.signal(signal.SIGTERM, _terminate)
    try:
        exit_code = app(args=argv, standalone_mode=False)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        sys.stderr.write("Error: aborted\n")
        sys.exit(1)
    except typer.TyperException as exc:  # bad option values, unknown options, missing arguments
        if type(exc).__name__ == "NoArgsIsHelpError":  # plain `databuild`: the help was shown
            sys.exit(0)
        message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
        from databuild.display import visible

        sys.stderr.write(f"Error: {visible(message)}\n")
        sys.exit(1)
    sys.exit(exit_code if isinstance(exit_code, int) else 0)


def _terminate(signum: int, frame: FrameType | None) -> None:
    """SIGTERM ends a command as Ctrl-C does: its `finally` blocks remove staged versions and spill folders."""
    raise KeyboardInterrupt
