"""The README's "A session" runs as written: each `$` command of its text block is run in a fresh directory (a
fresh store), in order, and its output must have the README's shape (numbers, timings, dates and table widths
aside). `make run` stands for what it runs (`databuild snapshot`, the embedded sample into a fresh store);
`source .venv/bin/activate` is the shell's. The session is sized to run in about a minute on a quiet machine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"
REPO = README.parent
PROGRESS = re.compile(r"ETA \d|\d+/\d+ \w+ \(\d+%\)")  # a non-terminal's periodic progress lines vary with time
STANDS_FOR = {"make run": "databuild snapshot"}
MAKE_ECHO = (".venv/bin/databuild snapshot", "…")  # make's echo of its recipe, and the first run's installation


def session_block() -> list[tuple[str, list[str]]]:
    """The (command, expected output lines) of the README's session, in order."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("\n## A session") :]
    block = section[section.index("```text\n") + len("```text\n") :]
    block = block[: block.index("```")]
    steps: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            steps.append((line[2:].split("   #")[0].strip(), []))
        elif steps:
            steps[-1][1].append(line)
    return steps


def shape(line: str) -> str:
    """A line with its numbers, hashes and run ids as `0`, and runs of spaces or of one box character as one."""
    line = re.sub(r"[0-9a-f]{12,}", "0", line)
    line = re.sub(r"\d+(\.\d+)?", "0", line)
    line = re.sub(r"([─━═ ])\1+", r"\1", line)
    return line.strip()


def shapes(lines: list[str]) -> list[str]:
    return [shape(line) for line in lines if line.strip() and not PROGRESS.search(line)]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("session")
    bin_dir = work / ".bin"
    bin_dir.mkdir()
    (bin_dir / "databuild").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m databuild "$@"\n')
    (bin_dir / "databuild").chmod(0o755)
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')  # a link would lose the venv
    (bin_dir / "python").chmod(0o755)
    return work


def test_session_commands_are_all_checked() -> None:
    commands = [command for command, _ in session_block()]
    assert commands[0] == "make run" and commands[1] == "source .venv/bin/activate"
    assert any(c.startswith("databuild train") for c in commands) and commands[-1].startswith("databuild runs")


def test_readme_session_runs_as_written(workdir: Path) -> None:
    env = {
        **os.environ,
        "PATH": f"{workdir / '.bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": f"{REPO}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "PYTHONUNBUFFERED": "1",  # stdout and stderr in the order a terminal shows them
        "COLUMNS": "80",
    }
    env.pop("DATABUILD_STORE", None)
    for command, expected in session_block():
        if command.startswith("source "):
            continue
        done = subprocess.run(
            ["bash", "-c", STANDS_FOR.get(command, command) + " 2>&1"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert done.returncode == 0, f"$ {command}\n{done.stdout}"
        got = shapes(done.stdout.splitlines())
        if command == "make run":
            expected = [line for line in expected if not line.startswith(MAKE_ECHO)]
        want = shapes(expected)
        assert got == want, f"$ {command}: output differs from the README\n" + "\n".join(done.stdout.splitlines())
