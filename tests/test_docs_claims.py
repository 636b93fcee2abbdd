"""What README.md and docs/*.md name exists in the code: every `pexbin` command, every `[tool.pexbin]` key, every
config-setting and `PEXBIN_*` variable, and the lines a build prints, each parsed from the text and looked up in
the code that defines it (the argparse parser, the config model, the settings, `built.py`). docs/reference.md is
generated from the model and checked by tests/commands/test_docs.py."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple

import pytest
from conftest import ROOT

from pex_backend import timings
from pex_backend.backend.compose.built import BuiltBinary, announce
from pex_backend.backend.config.load import load
from pex_backend.backend.config.settings import SETTINGS
from pex_backend.backend.config.table import BINARY_FIELDS, BINARY_ONLY, NESTED_TABLES, SINGLE_BINARY_ONLY, TABLE_FIELDS
from pex_backend.commands.cli import parser

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "reference.md")]
KEYS = {*TABLE_FIELDS, *BINARY_FIELDS, *BINARY_ONLY, *SINGLE_BINARY_ONLY, *NESTED_TABLES}
# Kebab-case names in backticks that belong to other tools (PEP 517/621, pip, uv, CycloneDX, CI services), not keys.
NOT_KEYS = {"backend-path", "requires-python", "only-binary", "first-index", "bom-ref", "release-cli", "restore-keys"}
VARIABLES = {variable for variable, _ in SETTINGS.values()} | {timings.SWITCH}
FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
KEBAB = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)+")
COMMAND = re.compile(r"(?:^|[\s$(])(?:pexbin|python -m pex_backend)\s+([a-z][a-z-]*)(?:\s+([a-z][a-z-]*))?")


def code(text: str) -> Iterator[str]:
    """The fenced blocks and the inline code spans of a Markdown text."""
    for block in FENCE.finditer(text):
        yield block.group(1)
    # A span may run over a line break, which Markdown reads as a space.
    yield from (" ".join(span.split()) for span in re.findall(r"`([^`]+)`", FENCE.sub("", text)))


def toml_blocks(text: str) -> Iterator[str]:
    yield from re.findall(r"^```toml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def claims(doc: Path) -> Dict[str, Set[str]]:
    """What `doc` names: commands (with their subcommand), keys, settings and variables."""
    text = doc.read_text()
    found: Dict[str, Set[str]] = {"commands": set(), "keys": set(), "settings": set(), "variables": set()}
    for snippet in code(text):
        for command, sub in COMMAND.findall(snippet):
            found["commands"].add(f"{command} {sub}".strip() if command == "cache" and sub else command)
        found["keys"] |= {m for m in re.findall(r"tool\.pexbin\.([a-z][a-z0-9_-]*)", snippet)}
        found["keys"] |= set(re.findall(r"^([a-z][a-z0-9_-]*) = ", snippet)) if "\n" not in snippet else set()
        if KEBAB.fullmatch(snippet) and snippet not in NOT_KEYS:
            found["keys"].add(snippet)
        found["settings"] |= set(re.findall(r"(?<![\w.])pexbin\.([a-z][a-z-]*)\b(?!\.)", snippet))
    found["variables"] = set(re.findall(r"\bPEXBIN_[A-Z_]+\b", text))
    return found


def commands() -> Set[str]:
    def subcommands(p: argparse.ArgumentParser) -> Dict[str, argparse.ArgumentParser]:
        return next(a.choices for a in p._actions if isinstance(a, argparse._SubParsersAction))

    top = subcommands(parser())
    return set(top) | {f"cache {sub}" for sub in subcommands(top["cache"])}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_name_a_doc_uses_exists(doc: Path):
    found = claims(doc)
    assert found["commands"] <= commands(), f"no such pexbin command: {found['commands'] - commands()}"
    spelled = {key.replace("_", "-") for key in found["keys"]}
    assert spelled <= KEYS, f"no such [tool.pexbin] key: {spelled - KEYS}"
    assert found["settings"] <= set(SETTINGS), f"no such config-setting: {found['settings'] - set(SETTINGS)}"
    assert found["variables"] <= VARIABLES, f"no such variable: {found['variables'] - VARIABLES}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_table_a_doc_shows_is_accepted(doc: Path):
    """Each `[tool.pexbin]` of a TOML example, read by the config model: an unknown key or a wrong type fails."""
    for block in toml_blocks(doc.read_text()):
        table = tomllib.loads(block)
        if "pexbin" in table.get("tool", {}):
            load(table)


def test_the_docs_name_the_commands_and_keys():
    """The parsing above finds what it looks for (a test that finds nothing would prove nothing)."""
    found = {kind: set().union(*(claims(doc)[kind] for doc in DOCS)) for kind in ("commands", "keys", "variables")}
    assert {"verify", "run", "lock", "cache prune", "docs"} <= found["commands"]
    assert {"sh-boot", "entry-points", "output-name", "extra-build-args"} <= found["keys"]
    assert {"PEXBIN_TIMINGS", "PEXBIN_NO_CACHE", "PEXBIN_OUTPUT_DIR"} <= found["variables"]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_path_a_doc_cites_exists(doc: Path):
    """Files of this repository (tests, modules, sample projects, pages), and a test function a doc names."""
    text = doc.read_text()
    cited = re.findall(r"(?<![\w/.-])((?:tests|pex_backend|sample_projects|bench|docs)/[\w./-]*\w)(?:::(\w+))?", text)
    cited += [(f"docs/{page}", "") for page in re.findall(r"\]\(([\w-]+\.md)(?:#[\w-]*)?\)", text)]
    assert cited
    for path, function in cited:
        where = ROOT / path
        if doc.parent.name == "docs" and path.startswith("docs/") and not where.exists():
            where = doc.parent / path[len("docs/") :]
        assert where.exists(), f"{doc.name} cites {path}, which does not exist"
        if function:
            assert f"def {function}(" in where.read_text(), f"{doc.name} cites {path}::{function}"


def printed_lines(tmp_path: Path, capsys) -> List[Tuple[str, re.Pattern]]:
    """The lines `built.py` prints for each kind of PEX, as patterns: any name, size and seconds."""
    made = []
    for kind in ("pex", "spliced", "part", "derived", "reused"):
        path = tmp_path / kind / "NAME.pex"
        path.parent.mkdir()
        path.write_bytes(b"\0" * 1_234_567)
        made.append(
            BuiltBinary(
                spec=None,  # type: ignore[arg-type]  # announce() reads the file, not the spec
                path=path,
                seconds=0.8,
                reused=kind == "reused",
                spliced=kind in ("spliced", "part"),
                part_written=kind == "part",
                derived_from="OTHER.pex" if kind == "derived" else None,
            )
        )
    announce(made)
    patterns = []
    for line in capsys.readouterr().out.splitlines():
        pattern = re.escape(line).replace(r"NAME\.pex", r"[\w.-]+\.pex").replace(r"OTHER\.pex", r"[\w.-]+\.pex")
        pattern = pattern.replace(r"1\.2\ MB", r"[\d.]+\ [kM]B").replace(r"0\.8\ s", r"[\d.]+\ s")
        patterns.append((line, re.compile(pattern.replace(r"\ ", " "))))
    return patterns


def test_the_build_lines_the_docs_show_are_those_it_prints(tmp_path, capsys):
    patterns = printed_lines(tmp_path, capsys)
    shown = [
        line.strip()
        for doc in DOCS
        for snippet in code(doc.read_text())
        for line in re.findall(r"pex-backend: (?:wrote|reused) [\w.-]+\.pex .*", snippet)
    ]
    assert len(shown) >= 4, shown
    for line in shown:
        assert any(p.fullmatch(line) for _, p in patterns), f"{line!r} is not a line built.py prints: {patterns}"
