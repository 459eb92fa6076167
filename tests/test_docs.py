"""Docs that cannot rot: the site builds with --strict (and --strict fails on a broken link, a missing anchor or a page
left out of the navigation), the README is its Getting started page, the CLI reference is the app's own help, every
`databuild COMMAND --option` the README and docs/ show exists, no paragraph is written twice, the README stays short."""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from databuild.cli import app

REPO = Path(__file__).resolve().parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


def tool(name: str) -> ModuleType:
    """A module of tools/ (not a package), loaded by path."""
    spec = importlib.util.spec_from_file_location(name, REPO / "tools" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hooks = tool("docs_hooks")
doc_paragraphs = tool("doc_paragraphs")


# --- the site ---------------------------------------------------------------------------------------------------


def build_site(site_dir: Path, docs_dir: Path | None = None) -> None:
    """`mkdocs build --strict` of mkdocs.yml (optionally on another docs folder), as `make docs` runs it."""
    pytest.importorskip("mkdocs", reason="mkdocs is not installed: pip install -e '.[docs]' (make test installs it)")
    pytest.importorskip("material", reason="mkdocs-material is not installed: pip install -e '.[docs]'")
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # mkdocs-material's banner about MkDocs 2.0

    overrides = {"site_dir": str(site_dir), "strict": True}
    if docs_dir is not None:
        overrides["docs_dir"] = str(docs_dir)
    config = load_config(str(REPO / "mkdocs.yml"), **overrides)
    config.plugins.on_startup(command="build", dirty=False)
    try:
        build(config)
    finally:
        config.plugins.on_shutdown()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site_dir = tmp_path_factory.mktemp("site")
    build_site(site_dir)
    return site_dir


def test_site_builds_strict_with_every_page(site: Path) -> None:
    pages = {"index.html"} | {f"{p.stem}/index.html" for p in (REPO / "docs").glob("*.md") if p.stem != "index"}
    pages |= {"cli/index.html", "api/index.html"}
    assert sorted(p for p in pages if not (site / p).is_file()) == []


def test_getting_started_is_the_readme_with_links_into_the_site(site: Path) -> None:
    page = (site / "index.html").read_text(encoding="utf-8")
    for heading in re.findall(r"^## (.+)$", (REPO / "README.md").read_text(encoding="utf-8"), re.MULTILINE):
        assert f">{heading}<" in page, heading
    links = re.findall(r'href="([^"]*)"', page)
    assert "contracts/" in links and "store/#open-a-version-with-other-tools" in links
    assert [link for link in links if "docs/" in link or link.endswith(".md")] == []


def test_strict_build_fails_on_a_broken_link_anchor_or_a_page_outside_the_nav(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    docs = tmp_path / "docs"
    shutil.copytree(REPO / "docs", docs)
    (docs / "orphan.md").write_text("# Not in the nav\n")
    with (docs / "store.md").open("a") as page:
        page.write("\nSee [the missing page](missing.md) and [a missing anchor](contracts.md#no-such-heading).\n")
    from mkdocs.exceptions import Abort

    with caplog.at_level(logging.WARNING), pytest.raises(Abort, match="Aborted with 3 warnings in strict mode"):
        build_site(tmp_path / "site", docs)
    warnings = "\n".join(record.getMessage() for record in caplog.records if record.levelno == logging.WARNING)
    assert "orphan.md" in warnings and 'not included in the "nav"' in warnings
    assert "'missing.md'" in warnings and "not found among documentation files" in warnings
    assert "'contracts.md#no-such-heading'" in warnings and "does not contain an anchor" in warnings


# --- the CLI reference ------------------------------------------------------------------------------------------


def reference_sections() -> dict[str, str]:
    """The generated CLI reference's help block per `## databuild …` heading."""
    sections = re.findall(
        r"^## (databuild(?: \w+)?)\n\n```text\n(.*?)\n```", hooks.cli_reference_markdown(), re.S | re.M
    )
    return dict(sections)


def test_cli_reference_is_each_commands_help_exactly() -> None:
    group = hooks.click_app()
    sections = reference_sections()
    assert list(sections) == ["databuild"] + [f"databuild {name}" for name in group.list_commands(None)]
    for title, block in sections.items():
        args = [*title.split()[1:], "--help"]
        result = CliRunner().invoke(app, args, terminal_width=hooks.HELP_WIDTH)
        assert result.exit_code == 0
        assert block == result.output.rstrip(), title


def test_every_command_and_option_in_the_cli_reference_exists() -> None:
    group = hooks.click_app()
    for title, block in reference_sections().items():
        command = group if title == "databuild" else group.commands[title.split()[1]]
        declared = {opt for param in command.params for opt in (*param.opts, *param.secondary_opts)} | {"-h", "--help"}
        listed = set(re.findall(r"^  (-\w|--[\w-]+)(?:, (--[\w-]+))?", block.split("Options:")[1], re.M))
        assert listed, title
        assert {opt for pair in listed for opt in pair if opt} <= declared, title
        if title == "databuild":
            assert set(re.findall(r"^  (\w+)  ", block.split("Commands:")[1], re.M)) == set(group.commands)


# --- what the pages say about the CLI ---------------------------------------------------------------------------

CODE_SPAN = re.compile(r"`([^`\n]+)`")
COMMAND_LINE = re.compile(r"(?:^|[\s/$])databuild\s+([a-z][\w-]*)((?:\s+(?:[^\s&;|#]+|\|[^\s])+)*)")
GLOBAL = {"--debug", "--version", "-h", "--help"}


def code_texts(text: str) -> list[str]:
    """Every code span and every line of every fenced code block."""
    texts, in_code = [], False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            in_code = not in_code
        elif in_code:
            texts.append(line)
        else:
            texts += CODE_SPAN.findall(line)
    return texts


def option_mentions(text: str, commands: set[str]) -> list[tuple[str, str]]:
    """(command, option) for each `databuild COMMAND … --option` (or `COMMAND --option` alone) in code."""
    found = []
    for code in code_texts(text):
        for segment in re.split(r"\s&&\s|\s;\s|\s\|\s|\s#", code):
            match = COMMAND_LINE.search(segment) or re.match(rf"^({'|'.join(commands)})((?:\s+\S+)+)$", segment)
            if match:
                found += [
                    (match.group(1), option) for option in re.findall(r"(?:^|\s|\[)(--?[a-z][\w-]*)", match.group(2))
                ]
    return found


def test_option_mentions_are_found_as_written() -> None:
    commands = {"snapshot", "diff"}
    text = (
        "Run `databuild snapshot --logs x --full` and `diff --limit 2`.\n"
        "```sh\n$ databuild diff v1 v2 -o r.html && ls -l\n```\n"
    )
    assert option_mentions(text, commands) == [
        ("snapshot", "--logs"),
        ("snapshot", "--full"),
        ("diff", "--limit"),
        ("diff", "-o"),
    ]


def test_every_command_and_option_the_docs_show_exists() -> None:
    group = hooks.click_app()
    unknown = []
    for path in DOCS:
        for command, option in option_mentions(path.read_text(encoding="utf-8"), set(group.commands)):
            if command.isupper():  # a placeholder: `databuild COMMAND -h`
                continue
            if command not in group.commands:
                unknown.append(f"{path.name}: databuild {command}")
                continue
            declared = {opt for param in group.commands[command].params for opt in (*param.opts, *param.secondary_opts)}
            if option not in declared | GLOBAL:
                unknown.append(f"{path.name}: databuild {command} {option}")
    assert unknown == []


# --- the Python API page's example ------------------------------------------------------------------------------


def test_the_api_pages_example_runs_as_written(tmp_path: Path) -> None:
    """The page's command builds the example store; its Python block then prints what its last comment says."""
    page = (REPO / "docs" / "api.md").read_text(encoding="utf-8")
    command = re.search(r"\(`databuild (snapshot [^`]+)`\)", page)
    code = re.search(r"```python\n(.*?)```", page, re.S)
    assert command and code
    args = command.group(1).replace("examples/", f"{REPO}/examples/").replace("--store shs", f"--store {tmp_path}/shs")
    built = CliRunner().invoke(app, args.split())
    assert built.exit_code == 0, built.output
    expected = code.group(1).strip().splitlines()[-1].split("# ")[-1]
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, "-c", code.group(1)], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == expected == "v1 (34, 13) 11 0.83"


# --- no text twice, a short README ------------------------------------------------------------------------------


def test_a_repeated_paragraph_or_sentence_is_found(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    paragraph = "A version directory appears complete or not at all, built in the store's tmp folder and renamed."
    sentence = "The same content and options give the same fingerprint and write nothing, on whatever machine they run."
    (tmp_path / "README.md").write_text(f"# t\n\n{paragraph}\n\n- One item. {sentence}\n\n```\n{paragraph}\n```\n")
    (tmp_path / "docs" / "a.md").write_text(f"# a\n\n{paragraph.upper()}\n\nOther words first. [{sentence}](x.md)\n")
    found = doc_paragraphs.repeated(doc_paragraphs.documentation_files(tmp_path), tmp_path)
    assert found == {
        doc_paragraphs.normalized(paragraph): ["README.md:3", "docs/a.md:3"],
        doc_paragraphs.normalized(sentence): ["README.md:5", "docs/a.md:5"],
    }


def test_no_paragraph_appears_twice_across_readme_and_docs() -> None:
    assert doc_paragraphs.repeated(DOCS) == {}


def test_readme_is_a_guide_of_at_most_400_lines() -> None:
    assert len((REPO / "README.md").read_text(encoding="utf-8").splitlines()) <= 400
