"""The `[tool.pexbin]` model: every key, both spellings, and one clear error per mistake."""

from __future__ import annotations

import dataclasses

import pytest

from pex_backend.backend.config.binary import BinaryOptions
from pex_backend.backend.config.load import load as load_pyproject
from pex_backend.backend.config.settings import BuildSettings, read
from pex_backend.backend.config.table import BINARY_FIELDS, NESTED_TABLES, TABLE_FIELDS, SingleBinary, TableOptions
from pex_backend.errors import ConfigError


def load(table: dict):
    return load_pyproject({"tool": {"pexbin": table}})


def error_of(table: dict) -> str:
    with pytest.raises(ConfigError) as caught:
        load(table)
    return str(caught.value)


def test_no_table_means_no_config():
    assert load_pyproject({"project": {"name": "x"}}) is None
    assert load_pyproject({"tool": {"other": {}}}) is None


def test_every_reference_field_is_known():
    reference = {
        "complete_platforms", "dependencies", "description", "emit_warnings", "entry_points", "execution_mode",
        "ignore_errors", "include_requirements", "include_tools", "inherit_path", "interpreter_constraints",
        "layout", "overrides", "platforms", "resolve", "resolve_local_platforms", "restartable", "shebang",
        "strip_pex_env", "tags",
    }  # fmt: skip
    known = {key.replace("-", "_") for key in [*BINARY_FIELDS, *TABLE_FIELDS, *NESTED_TABLES]}
    assert reference <= known


def test_defaults_match_the_reference():
    options = BinaryOptions()
    assert (options.execution_mode, options.layout) == ("zipapp", "zipapp")
    assert (options.ignore_errors, options.include_requirements, options.include_tools) == (False, True, False)
    assert (options.restartable, options.strip_pex_env, options.emit_warnings, options.inherit_path) == (
        False,
        True,
        None,
        None,
    )


def test_kebab_and_pants_spellings_are_both_accepted():
    kebab = load({"entry-points": ["a"], "execution-mode": "venv", "inherit-path": False})
    snake = load({"entry_points": ["a"], "execution_mode": "venv", "inherit_path": "false"})
    assert kebab == snake
    assert kebab.table.entry_points == ("a",)
    assert kebab.defaults == {"execution-mode": "venv", "inherit-path": "false"}


@pytest.mark.parametrize(
    "table, expected",
    [
        ({"entry-point": ["a"]}, "tool.pexbin.entry-point: unknown key; did you mean 'entry-points'?"),
        ({"entry-points": "a"}, "tool.pexbin.entry-points: expected an array of strings, got the string 'a'"),
        ({"entry-points": ["a", 3]}, "tool.pexbin.entry-points[1]: expected a string, got the number 3"),
        ({"entry-points": ["a b"]}, "tool.pexbin.entry-points[0]: 'a b' is not a console script, 'pkg.mod'"),
        ({"execution-mode": "fast"}, "tool.pexbin.execution-mode: expected one of 'zipapp', 'venv', got the string"),
        ({"layout": "zip"}, "tool.pexbin.layout: expected one of 'zipapp', 'packed', 'loose'"),
        ({"include-tools": "yes"}, "tool.pexbin.include-tools: expected true or false, got the string 'yes'"),
        ({"inherit-path": True}, "tool.pexbin.inherit-path: expected one of 'false', 'fallback', 'prefer'"),
        (
            {"execution-mode": "venv", "execution_mode": "venv"},
            "tool.pexbin.execution_mode: given twice, as 'execution-mode' and 'execution_mode'; keep one spelling",
        ),
        ({"platforms": ["linux"]}, "tool.pexbin.platforms[0]: 'linux' is not an abbreviated platform PLATFORM-IMPL"),
        ({"dependencies": ["requests>>2"]}, "tool.pexbin.dependencies[0]: 'requests>>2' is not a requirement"),
        ({"pex-version": "latest"}, "tool.pexbin.pex-version: 'latest' is not an exact version"),
        ({"pip-version": "newest"}, "tool.pexbin.pip-version: 'newest' is not 'latest', 'latest-compatible'"),
        ({"overrides": {"a": {"layuot": "loose"}}}, 'tool.pexbin.overrides."a".layuot: unknown key; did you mean'),
        ({"overrides": {"a": "venv"}}, 'tool.pexbin.overrides."a": expected a table of fields, got the string'),
        ({"binaries": {"x": {"script": "a", "entry-point": "b"}}}, "tool.pexbin.binaries.x: expected exactly one of"),
        (
            {"binaries": {"x": {}}},
            "tool.pexbin.binaries.x: expected exactly one of `entry-point`, `script` and `executable`",
        ),
        ({"resolve": "main"}, "tool.pexbin.resolve: 'main' is not a name in `resolves`; `resolves` declares none"),
        ({"resolves": {"a": "a.lock"}, "default-resolve": "b"}, "tool.pexbin.default-resolve: 'b' is not a name"),
        ({"output-name": "x"}, "tool.pexbin.output-name: unknown key"),
    ],
)
def test_mistakes_name_the_key_and_what_was_expected(table, expected):
    message = error_of(table)
    assert message.startswith(expected), message
    assert "\n" not in message


def test_overrides_and_binaries_are_parsed():
    loaded = load(
        {
            "entry-points": ["a.py", "b.py:main"],
            "overrides": {"a.py": {"execution_mode": "venv"}, "a.py, b.py:main": {"tags": ["legacy"]}},
            "binaries": {"gunicorn": {"script": "gunicorn", "dependencies": ["gunicorn"]}},
        }
    )
    assert [(o.entry_points, dict(o.values)) for o in loaded.overrides] == [
        (("a.py",), {"execution-mode": "venv"}),
        (("a.py", "b.py:main"), {"tags": ("legacy",)}),
    ]
    assert loaded.binaries[0] == SingleBinary("gunicorn", None, "gunicorn", {"dependencies": ("gunicorn",)})


def test_referenced_files_are_collected_for_the_sdist():
    loaded = load(
        {
            "complete-platforms": ["p/a.json"],
            "resolves": {"default": "pex.lock"},
            "overrides": {"x": {"complete-platforms": ["p/b.json", "p/a.json"]}},
        }
    )
    assert loaded.referenced_files() == ("pex.lock", "p/a.json", "p/b.json")


def test_every_field_has_help_and_an_example():
    for field in [*dataclasses.fields(BinaryOptions), *dataclasses.fields(TableOptions)]:
        assert field.metadata["help"] and field.metadata["example"].startswith(field.name.replace("_", "-"))


def test_settings_environment_beats_config_settings(tmp_path):
    settings = read({"pexbin.output-dir": "a", "pexbin.tags": ["x", "-y"]}, {"PEXBIN_OUTPUT_DIR": str(tmp_path)})
    assert settings.output_dir == tmp_path and settings.tags == ("x", "-y")
    with pytest.raises(ConfigError, match=r"config-settings pexbin.outdir: unknown setting; did you mean 'output-dir'"):
        read({"pexbin.outdir": "a"}, {})
    with pytest.raises(ConfigError, match="environment variable PEXBIN_SKIP: expected true or false"):
        read({}, {"PEXBIN_SKIP": "maybe"})


def test_tag_selection_follows_pants():
    assert BuildSettings(tags=("web",)).selects(("web", "prod"))
    assert not BuildSettings(tags=("web",)).selects(())
    assert not BuildSettings(tags=("-prod",)).selects(("web", "prod"))
    assert BuildSettings(tags=("-prod",)).selects(())
    assert BuildSettings().selects(())
