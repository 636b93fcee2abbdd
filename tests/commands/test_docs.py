"""The reference page and the JSON schema are generated from the model and current, and say what the code does."""

from __future__ import annotations

import json
import sys

import fastjsonschema
import pytest
from conftest import SAMPLES
from validate_pyproject.api import Validator
from validate_pyproject.errors import ValidationError

from pex_backend import bytecode
from pex_backend.backend.config.load import load
from pex_backend.backend.config.owned import OWNED_PEX_ARGS, owned_pex_arg
from pex_backend.backend.config.project import read_pyproject
from pex_backend.backend.config.table import BINARY_FIELDS, BINARY_ONLY, SINGLE_BINARY_ONLY, TABLE_FIELDS
from pex_backend.commands import docs
from pex_backend.commands.cli import main
from pex_backend.errors import ConfigError

SCHEMA = fastjsonschema.compile(json.loads(docs.SCHEMA_PATH.read_text()))
VALIDATE_PYPROJECT = Validator()


def test_reference_page_is_current():
    assert docs.REFERENCE_PATH.read_text() == docs.render_reference(), "run `python -m pex_backend docs --write`"


def test_schema_is_current():
    assert docs.SCHEMA_PATH.read_text() == docs.schema_text(), "run `python -m pex_backend docs --write`"


def test_every_key_has_a_section():
    page = docs.render_reference()
    for key in [*BINARY_FIELDS, *TABLE_FIELDS, *BINARY_ONLY, *SINGLE_BINARY_ONLY]:
        assert f"## `{key}`" in page
    assert json.loads(docs.schema_text())["properties"]["execution_mode"]["enum"] == ["zipapp", "venv"]


def section(key: str) -> str:
    page = docs.render_reference()
    start = page.index(f"## `{key}`")
    return page[start : page.index("\n## ", start + 1)]


def test_a_pants_spelling_only_for_a_field_pants_has():
    assert "- Pants field: `execution_mode`" in section("execution-mode")
    assert "- Pants field: `scie_hash_alg`" in section("scie-hash-alg")
    for own in ("delegate-backend", "sbom", "resolver", "per-platform"):
        assert "Pants field" not in section(own) and "pex-backend's own" in section(own), own
    assert "Pants field" not in section("output-name") and "`output_path`" in section("output-name")
    assert "`[python].resolves`" in section("resolves")


def test_extra_build_args_lists_the_refused_options_from_the_code():
    text = section("extra-build-args")
    for names, owner in OWNED_PEX_ARGS.items():
        assert f"- {', '.join(f'`{name}`' for name in names)}: {owner}" in text
    # The example is an option the backend leaves to the user: not refused, and no key's own option.
    example = json.loads(text.split("```toml\nextra-build-args = ")[1].split("\n")[0])
    option = example[0]
    assert owned_pex_arg(option) is None
    assert option.lstrip("-").replace("no-", "", 1) not in {*BINARY_FIELDS, *TABLE_FIELDS}


@pytest.mark.parametrize(
    "platform, environ, expected",
    [
        ("linux", {"XDG_CACHE_HOME": "/xdg"}, "$XDG_CACHE_HOME/pex-backend"),
        ("linux", {}, "~/.cache/pex-backend"),
        ("darwin", {}, "~/Library/Caches/pex-backend"),
        ("win32", {"LOCALAPPDATA": "C:/Users/u/AppData/Local"}, "%LOCALAPPDATA%\\pex-backend"),
    ],
)
def test_the_reference_gives_the_cache_directory_the_code_computes(monkeypatch, platform, environ, expected):
    monkeypatch.setattr(sys, "platform", platform)
    monkeypatch.setenv("HOME", "/home/u")
    for name in ("XDG_CACHE_HOME", "LOCALAPPDATA"):
        monkeypatch.delenv(name, raising=False)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    computed = bytecode.default_cache_dir().as_posix()
    spelled = expected.replace("$XDG_CACHE_HOME", "/xdg").replace("~", "/home/u")
    assert computed == spelled.replace("%LOCALAPPDATA%\\", "C:/Users/u/AppData/Local/")
    assert f"`{expected}`" in docs.CACHE_DEFAULT


def test_docs_write_writes_into_the_project_it_is_given(tmp_path, monkeypatch, capsys):
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / "pyproject.toml").write_text('[project]\nname = "pex-backend"\nversion = "0"\n')
    monkeypatch.chdir(tmp_path)
    assert main(["docs", "--write", "--project", str(checkout)]) == 0
    assert (checkout / "docs" / "reference.md").read_text() == docs.render_reference()
    assert (checkout / "pex_backend" / "resources" / "pexbin.schema.json").read_text() == docs.schema_text()
    assert f"wrote {checkout / 'docs' / 'reference.md'}" in capsys.readouterr().out
    # Anywhere else (the current directory here) it writes nothing, in one line.
    other = tmp_path / "app"
    other.mkdir()
    (other / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "0"\n')
    monkeypatch.chdir(other)
    with pytest.raises(SystemExit) as exited:
        main(["docs", "--write"])
    assert exited.value.code == 1
    assert f"{other} is not pex-backend's source checkout" in capsys.readouterr().err
    assert sorted(p.name for p in other.iterdir()) == ["pyproject.toml"]


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir() if (p / "pyproject.toml").is_file()))
def test_the_schema_accepts_what_the_model_accepts(name):
    pyproject = read_pyproject(SAMPLES / name)
    if load(pyproject) is not None:
        SCHEMA(pyproject["tool"]["pexbin"])


@pytest.mark.parametrize(
    "table, build_says, validate_pyproject_says",
    [
        (
            {"layuot": "packed"},
            "tool.pexbin.layuot: unknown key; did you mean 'layout'?",
            "`tool.pexbin` must not contain {'layuot'} properties",
        ),
        (
            {"execution-mode": "fast"},
            "tool.pexbin.execution-mode: expected one of 'zipapp', 'venv', got the string 'fast'",
            "`tool.pexbin.execution-mode` must be one of ['zipapp', 'venv']",
        ),
        (
            {"emit-warnings": "no"},
            "tool.pexbin.emit-warnings: expected true or false, got the string 'no'",
            "`tool.pexbin.emit-warnings` must be boolean",
        ),
        (
            {"platforms": "linux_x86_64-cp-3.12.1-cp312"},
            "tool.pexbin.platforms: expected an array of strings, got the string",
            "`tool.pexbin.platforms` must be array",
        ),
        (
            {"platforms": ["linux"]},
            "tool.pexbin.platforms[0]: 'linux' is not an abbreviated platform PLATFORM-IMPL-PYVER-ABI",
            "`tool.pexbin.platforms[0]` must match pattern",
        ),
        (
            {"tags": [1]},
            "tool.pexbin.tags[0]: expected a string, got the number 1",
            "`tool.pexbin.tags[0]` must be string",
        ),
        (
            {"overrides": {"app": {"script": "x"}}},
            'tool.pexbin.overrides."app".script: unknown key',
            "`tool.pexbin.overrides.app` must not contain {'script'} properties",
        ),
        (
            {"overrides": {"app": "venv"}},
            "tool.pexbin.overrides.\"app\": expected a table of fields, got the string 'venv'",
            "`tool.pexbin.overrides.app` must be object",
        ),
        (
            {"binaries": {"app": {"layout": "loose"}}},
            "tool.pexbin.binaries.app: expected exactly one of `entry-point`, `script` and `executable`",
            "`tool.pexbin.binaries.app` must be valid exactly by one definition (0 matches found)",
        ),
        (
            {"binaries": {"app": {"script": "x", "entry-point": "y"}}},
            "tool.pexbin.binaries.app: expected exactly one of `entry-point`, `script` and `executable`",
            "`tool.pexbin.binaries.app` must be valid exactly by one definition (2 matches found)",
        ),
        (
            {"binaries": {"app": {"script": "x", "entry-points": ["y"]}}},
            "tool.pexbin.binaries.app.entry-points: unknown key; did you mean 'entry-point'?",
            "`tool.pexbin.binaries.app` must not contain {'entry-points'} properties",
        ),
        # The schema's one rule against both spellings names the table, and lists every pair, this one among them.
        (
            {"execution-mode": "venv", "execution_mode": "venv"},
            "tool.pexbin.execution_mode: given twice, as 'execution-mode' and 'execution_mode'; keep one spelling",
            "`tool.pexbin` must NOT match a disallowed definition",
        ),
        (
            {"pex-version": "latest"},
            "tool.pexbin.pex-version: 'latest' is not an exact version like '2.105.2'",
            "`tool.pexbin.pex-version` must match pattern",
        ),
    ],
)
def test_the_schema_rejects_what_the_model_rejects(table, build_says, validate_pyproject_says):
    with pytest.raises(ConfigError) as build:
        load({"tool": {"pexbin": table}})
    assert build_says in str(build.value)
    # What `validate-pyproject` tells the user, through the schema the installed backend registers for it.
    with pytest.raises(ValidationError) as validated:
        VALIDATE_PYPROJECT({"tool": {"pexbin": table}})
    assert validated.value.message.startswith(validate_pyproject_says), validated.value.message
