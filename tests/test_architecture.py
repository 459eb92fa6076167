"""The house rules the code itself can check: imports point down the floors, only the colour pack's own folder
names a colour tool or a colour parameter, and each SQL model file is named after the one thing it writes."""

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


# What a SQL statement writes: a table, view or macro it creates (TEMP ones are the model's own helpers), a table it
# inserts into, a session variable it sets (the model's own helper when no other model reads it).
SQL_WRITE = re.compile(
    r"\b(?:CREATE\s+(?:OR\s+REPLACE\s+)?(?P<temp>TEMP(?:ORARY)?\s+)?(?:TABLE|VIEW|MACRO)|INSERT\s+INTO"
    r"|SET\s+VARIABLE)\s+(?P<name>\w+)",
    re.IGNORECASE,
)
SQL_MODEL_NAME = re.compile(r"\d{2}_(?P<name>\w+)\.sql")


def sql_writes(texts: dict[str, str]) -> dict[str, list[str]]:
    """Per model file: the names it writes that other models may read (its TEMP tables and views, and variables
    no other file mentions, are its own helpers)."""
    code = {name: "\n".join(line.split("--", 1)[0] for line in text.splitlines()) for name, text in texts.items()}
    writes: dict[str, list[str]] = {}
    for file, text in code.items():
        names = []
        for match in SQL_WRITE.finditer(text):
            name = match.group("name")
            is_variable = match.group(0).upper().startswith("SET")
            read_elsewhere = any(f"'{name}'" in other for o, other in code.items() if o != file)
            if not match.group("temp") and (read_elsewhere or not is_variable):
                names.append(name)
        writes[file] = names
    return writes


def sql_layout_problems(texts: dict[str, str]) -> list[str]:
    problems = []
    writers: dict[str, list[str]] = {}
    for file, names in sql_writes(texts).items():
        model = SQL_MODEL_NAME.fullmatch(file)
        if model is None:
            problems.append(f"{file}: not NN_<name>.sql")
        elif set(names) != {model.group("name")}:
            problems.append(f"{file}: writes {sorted(set(names))}, not only {model.group('name')}")
        for name in set(names):
            writers.setdefault(name, []).append(file)
    problems += [f"{name} is written by {', '.join(files)}" for name, files in writers.items() if len(files) > 1]
    return problems


def test_each_sql_model_is_named_after_the_one_thing_it_writes() -> None:
    texts = {path.name: path.read_text(encoding="utf-8") for path in sorted((ROOT / "sql").glob("*.sql"))}
    assert texts and sql_layout_problems(texts) == []


def test_the_sql_layout_check_would_catch() -> None:
    texts = {
        "20_outputs.sql": "CREATE OR REPLACE TABLE parsed_outputs AS SELECT 1",
        "33_all_files.sql": "CREATE VIEW all_a AS SELECT 1; CREATE VIEW all_b AS SELECT 2",
        "06_raw_parquet.sql": "CREATE OR REPLACE VIEW raw_parquet AS SELECT getvariable('parquet_globs')",
        "07_raw_parquet_none.sql": "CREATE OR REPLACE VIEW raw_parquet AS SELECT 1",
        "37_file_quarantine.sql": "CREATE TEMP TABLE hits AS SELECT 1; CREATE TABLE file_quarantine AS FROM hits",
        "38_file_quarantine_parquet.sql": "INSERT INTO file_quarantine SELECT 1",
        "01_inputs.sql": "SET VARIABLE parquet_files = 1; SET VARIABLE own = 2; SELECT getvariable('own')",
        "02_parquet_globs.sql": "SET VARIABLE parquet_globs = getvariable('parquet_files')",
    }
    assert sql_layout_problems(texts) == [
        "20_outputs.sql: writes ['parsed_outputs'], not only outputs",
        "33_all_files.sql: writes ['all_a', 'all_b'], not only all_files",
        "07_raw_parquet_none.sql: writes ['raw_parquet'], not only raw_parquet_none",
        "38_file_quarantine_parquet.sql: writes ['file_quarantine'], not only file_quarantine_parquet",
        "01_inputs.sql: writes ['parquet_files'], not only inputs",
        "raw_parquet is written by 06_raw_parquet.sql, 07_raw_parquet_none.sql",
        "file_quarantine is written by 37_file_quarantine.sql, 38_file_quarantine_parquet.sql",
    ]
