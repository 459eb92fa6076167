"""The house rules the code itself can check: imports point down the floors, and only the colour pack's own folder
names a colour tool or a colour parameter."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Each floor may import only the floors listed for it (and itself). The CLI (`databuild/cli/`) is the roof.
FLOORS = {
    "core": {"core"},
    "pipelines": {"core", "pipelines"},
    "train": {"core", "train"},
    "augment": {"core", "pipelines", "train", "augment"},
    "cli": {"core", "pipelines", "train", "augment", "cli"},
}
COLOUR_PACK_DIR = ROOT / "databuild" / "packs" / "colour"
# Distinctive colour words anywhere; common words (tool names that are English words, short keys) only as strings.
# ("temperature" is left out: it is also the LLM sampling parameter the augment client sends.)
COLOUR_WORDS = re.compile(
    r"\b(selective_adjust|linearOffset|vibrance|luminance|faded_\w+|teal_and_orange_\d|duotone_\w+)\b"
)
COLOUR_STRINGS = re.compile(
    r"""["'`](adjust|filter|exposure|contrast|brightness|highlights|shadows|saturation|tint|hue|bloom|"""
    r"""sharpen|structure|red|orange|yellow|green|cyan|blue|intensity|lovely_day|vivid|night_vision)["'`]"""
)


def floor_of(module: str) -> str | None:
    top = module.split(".")[0]
    if module in ("databuild.cli", "databuild.__main__") or module.startswith("databuild.cli."):
        return "cli"
    if top == "databuild":
        return "core"
    return top if top in FLOORS else None


def source_files() -> list[Path]:
    return sorted(
        p for package in ("databuild", "pipelines", "augment", "train") for p in (ROOT / package).rglob("*.py")
    )


def imported_modules(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, at any depth (function-local imports too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module)] + [(node.lineno, f"{node.module}.{a.name}") for a in node.names]
    return found


def test_imports_only_point_down_the_floors() -> None:
    offences = []
    for path in source_files():
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        floor = floor_of(module)
        assert floor is not None
        for line, imported in imported_modules(path):
            target = floor_of(imported)
            if target is not None and target not in FLOORS[floor]:
                offences.append(f"{path.relative_to(ROOT)}:{line} ({floor}) imports {imported} ({target})")
    assert offences == []


def test_the_floor_check_sees_function_local_imports(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text("def f():\n    from train.student import TrainedStudent\n", encoding="utf-8")
    assert (2, "train.student") in imported_modules(sample)


def test_only_the_colour_pack_names_colour_tools_and_keys() -> None:
    files = [p for p in source_files() if COLOUR_PACK_DIR not in p.parents]
    files += sorted((ROOT / "sql").glob("*.sql")) + sorted((ROOT / "schemas").glob("*.json"))
    files += sorted((ROOT / "augment").rglob("*.jinja2"))
    offences = []
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if COLOUR_WORDS.search(line) or COLOUR_STRINGS.search(line):
                offences.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offences == []


@pytest.mark.parametrize("line", ['tool == "filter"', "x = 'selective_adjust'", 'p["linearOffset"]'])
def test_the_colour_check_would_catch(line: str) -> None:
    assert COLOUR_WORDS.search(line) or COLOUR_STRINGS.search(line)
