"""Shared CLI plumbing: the error handler, output helpers, and the options several commands share."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import fields
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from databuild.cli.app import state
from databuild.errors import DatabuildError

FORMATS_TABLE_JSON = ("table", "json")


def default_store() -> Path:
    return Path(os.environ.get("DATABUILD_STORE") or "store")


StoreOption = Annotated[
    Path | None, typer.Option("--store", help="Store directory (default: $DATABUILD_STORE or ./store).")
]
TableOrJsonOption = Annotated[str, typer.Option("--format", help="table or json.")]

_Options = TypeVar("_Options")


def options_from(options_type: type[_Options], params: dict[str, Any], **given: Any) -> _Options:
    """A library's options dataclass from a command's parsed parameters (`ctx.params`), which are named like its
    fields; `given` sets (or replaces) fields the command computes itself."""
    names = {field.name for field in fields(options_type)}  # type: ignore[arg-type]
    return options_type(**{**{name: value for name, value in params.items() if name in names}, **given})


def store_path(store: Path | None) -> Path:
    return store if store is not None else default_store()


def recorded_command(redact: dict[str, str] | None = None) -> str:
    """The command as typed (`databuild <command> <arguments>`, global options left out) for a manifest; each
    argument found in `redact` is written as its replacement (a base URL without its secrets)."""
    import shlex

    def written(argument: str) -> str:
        option, equals, value = argument.partition("=")  # `--base-url=URL` as well as `--base-url URL`
        if equals and option.startswith("-") and value in (redact or {}):
            return f"{option}={(redact or {})[value]}"
        return (redact or {}).get(argument, argument)

    return "databuild " + " ".join(shlex.quote(written(argument)) for argument in state["argv"])


def fail(message: str) -> None:
    """The one `Error:` line: control and bidi characters in it (file names, values) are shown escaped."""
    from databuild.display import visible

    typer.echo(f"Error: {visible(message)}", err=True)
    raise typer.Exit(1)


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn every error inside a command into one `Error: …` line and exit code 1 (traceback with --debug)."""
    try:
        yield
    except (typer.Exit, typer.Abort, SystemExit):
        raise
    except KeyboardInterrupt:
        typer.echo("Error: interrupted", err=True)
        raise typer.Exit(130) from None
    except DatabuildError as exc:
        if state["debug"]:
            raise
        fail(one_line(str(exc)))
    except MemoryError:
        if state["debug"]:
            raise
        fail("out of memory (try a smaller input, or --memory-limit where the command has it)")
    except Exception as exc:  # anything unexpected is still reported as one line
        if state["debug"]:
            raise
        fail(f"{type(exc).__name__}: {one_line(str(exc))} (run with --debug for the traceback)")


def one_line(message: str) -> str:
    """A message as one line: its first paragraph (DuckDB appends "Possible solutions: …"), lines joined."""
    first = message.strip().split("\n\n")[0]
    return " ".join(line.strip() for line in first.splitlines() if line.strip())


def check_choice(name: str, value: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise DatabuildError(f"{name} must be one of {', '.join(choices)}, not {value!r}")
    return value


def print_json(payload: Any) -> None:
    """`payload` as indented JSON on stdout: the exact data, bidi and C1 characters as `\\u` escapes."""
    from databuild.display import escaped_json

    sys.stdout.write(escaped_json(json.dumps(payload, indent=2, ensure_ascii=False, default=str)) + "\n")


def stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)


def stdout_console() -> Any:
    from rich.console import Console

    return Console(highlight=False, soft_wrap=True)
