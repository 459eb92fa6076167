"""Fixtures of the pipeline tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pipelines.incremental_days import write_days


@pytest.fixture
def days(tmp_path: Path) -> list[Path]:
    """The three hand-written daily logs of incremental_days.py, in tmp_path/logs/."""
    return write_days(tmp_path / "logs")
