"""The reference page, the README's key table and the JSON schema are generated from the model and current."""

from __future__ import annotations

import json

from pex_backend import config, docs


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
