"""The reference page, the README's key table and the JSON schema are generated from the model and current."""

from __future__ import annotations

import json

import fastjsonschema
import pytest
from conftest import SAMPLES

from pex_backend import config, docs
from pex_backend.errors import ConfigError
from pex_backend.project import read_pyproject

SCHEMA = fastjsonschema.compile(json.loads(docs.SCHEMA_PATH.read_text()))


def test_reference_page_is_current():
    assert docs.REFERENCE_PATH.read_text() == docs.render_reference(), "run `python -m pex_backend docs --write`"


def test_readme_key_table_is_current():
    readme = docs.README_PATH.read_text()
    assert docs.with_key_table(readme) == readme, "run `python -m pex_backend docs --write`"


def test_schema_is_current():
    assert docs.SCHEMA_PATH.read_text() == docs.schema_text(), "run `python -m pex_backend docs --write`"


def test_every_key_has_a_section():
    page = docs.render_reference()
    for key in [*config.BINARY_FIELDS, *config.TABLE_FIELDS, *config.BINARY_ONLY, *config.SINGLE_BINARY_ONLY]:
        assert f"## `{key}`" in page
    assert json.loads(docs.schema_text())["properties"]["execution_mode"]["enum"] == ["zipapp", "venv"]


@pytest.mark.parametrize("name", sorted(p.name for p in SAMPLES.iterdir() if (p / "pyproject.toml").is_file()))
def test_the_schema_accepts_what_the_model_accepts(name):
    pyproject = read_pyproject(SAMPLES / name)
    if config.load(pyproject) is not None:
        SCHEMA(pyproject["tool"]["pexbin"])


@pytest.mark.parametrize(
    "table",
    [
        {"layuot": "packed"},
        {"execution-mode": "fast"},
        {"emit-warnings": "no"},
        {"platforms": "linux_x86_64-cp-3.12.1-cp312"},
        {"platforms": ["linux"]},
        {"tags": [1]},
        {"overrides": {"app": {"script": "x"}}},
        {"overrides": {"app": "venv"}},
        {"binaries": {"app": {"layout": "loose"}}},
        {"binaries": {"app": {"script": "x", "entry-point": "y"}}},
        {"binaries": {"app": {"script": "x", "entry-points": ["y"]}}},
        {"execution-mode": "venv", "execution_mode": "venv"},
        {"pex-version": "latest"},
    ],
)
def test_the_schema_rejects_what_the_model_rejects(table):
    with pytest.raises(ConfigError):
        config.load({"tool": {"pexbin": table}})
    with pytest.raises(fastjsonschema.JsonSchemaException):
        SCHEMA(table)
