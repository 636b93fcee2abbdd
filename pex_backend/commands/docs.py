"""Documentation and JSON schema of `[tool.pexbin]`, generated from the config model."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

from pex_backend.backend.config.kinds import Kind
from pex_backend.backend.config.owned import OWNED_PEX_ARGS
from pex_backend.backend.config.project import read_pyproject
from pex_backend.backend.config.settings import SETTINGS
from pex_backend.backend.config.table import (
    BINARY_FIELDS,
    BINARY_ONLY,
    ENTRY_POINT_KEYS,
    NESTED_TABLES,
    SINGLE_BINARY_ONLY,
    TABLE_FIELDS,
)
from pex_backend.errors import ConfigError

# The fields of Pants' `pex_binary` / `pex_binaries` targets (its 2.17 reference and the fields newer Pants versions
# added); every other key of the table is pex-backend's own.
PANTS_FIELDS = {
    "args", "check", "complete-platforms", "compress", "dependencies", "description", "emit-warnings", "entry-point",
    "entry-points", "env", "executable", "execution-mode", "extra-build-args", "ignore-errors",
    "include-requirements", "include-sources", "include-tools", "inherit-path", "interpreter-constraints", "layout",
    "platforms", "resolve", "resolve-local-platforms", "restartable", "script", "sh-boot", "shebang",
    "strip-pex-env", "tags", "validate-entry-point", "venv-hermetic-scripts", "venv-site-packages-copies",
}  # fmt: skip
OWN_KEY = "no such field; this key is pex-backend's own"
# Keys that stand for a Pants field of another name or shape, or for a Pants option rather than a field.
PANTS_COUNTERPARTS = {
    "output-name": "Pants' field is `output_path`, a path under `dist/` with the extension; here a file name "
    "without `.pex`, in the output directory",
    "default-resolve": "Pants has the option `[python].default_resolve`, not a field",
    "resolves": "Pants has the option `[python].resolves`, not a field",
    "index-urls": "Pants has the option `[python-repos].indexes`, not a field",
    "find-links": "Pants has the option `[python-repos].find_links`, not a field",
    "pex-version": "Pants has the option `[pex-cli].version`, not a field",
    "pip-version": "Pants has the option `[python].pip_version`, not a field",
}


def default_text(field: dataclasses.Field) -> str:
    if field.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        return "`{}`"
    if field.default is None:
        return "unset"
    return f"`{json.dumps(list(field.default) if isinstance(field.default, tuple) else field.default)}`"


def entries() -> Iterator[Tuple[str, Kind, str, str, str, str]]:
    """(key, kind, default, help, example, where) for every key of the table, in the order of the docs."""
    for key, f in sorted({**TABLE_FIELDS, **BINARY_FIELDS}.items()):
        where = "top of the table" if key in TABLE_FIELDS else "table, overrides, binaries"
        yield key, f.metadata["kind"], default_text(f), f.metadata["help"], f.metadata["example"], where
    for key, (kind, help, example) in {**BINARY_ONLY, **SINGLE_BINARY_ONLY}.items():
        where = "overrides, binaries" if key in BINARY_ONLY else "binaries"
        yield key, kind, "unset", help, example, where


def pants_name(key: str) -> str:
    return key.replace("-", "_")


def is_pants_field(key: str) -> bool:
    return key in PANTS_FIELDS or key.startswith("scie")


def pants_line(key: str) -> str:
    if is_pants_field(key):
        return f"- Pants field: `{pants_name(key)}` (accepted here in that spelling too)"
    also = f"; `{pants_name(key)}` is accepted too" if "-" in key else ""
    return f"- Pants: {PANTS_COUNTERPARTS.get(key, OWN_KEY)}{also}"


CACHE_DEFAULT = (
    "The build cache's default directory (`pex_backend/pex/cache.py`): `$XDG_CACHE_HOME/pex-backend`, else "
    "`~/.cache/pex-backend` on Linux; `~/Library/Caches/pex-backend` on macOS; `%LOCALAPPDATA%\\pex-backend` on "
    "Windows. See [the build cache](cache.md)."
)


def render_reference() -> str:
    lines = [
        "# `[tool.pexbin]` reference",
        "",
        "Generated from the model in `pex_backend/backend/config/` by `python -m pex_backend docs --write`; a test "
        "fails when it is stale. Keys are kebab-case; each is accepted in `snake_case` too (the spelling of Pants' "
        "fields), but not in both spellings at once. Each section says which Pants `pex_binary` field the key is, "
        "or that Pants has none ([moving from Pants](pants.md)). Fields marked *table, overrides, binaries* set a "
        "default for every binary at "
        "the top of the table, and a value for some binaries in `[tool.pexbin.overrides]` or "
        "`[tool.pexbin.binaries.NAME]`; a value there replaces the table's.",
        "",
    ]
    for key, kind, default, help, example, where in entries():
        lines += [
            f"## `{key}`",
            "",
            f"- type: {kind.type_name}",
            f"- default: {default}",
            f"- where: {where}",
            pants_line(key),
            "",
            help,
            "",
            "```toml",
            example,
            "```",
            "",
        ]
        if key == "extra-build-args":
            lines += ["Refused, with the part of the build that sets them (`pex_backend/backend/config/owned.py`):", ""]
            lines += [f"- {', '.join(f'`{n}`' for n in names)}: {owner}" for names, owner in OWNED_PEX_ARGS.items()]
            lines += [""]
    for key, help in NESTED_TABLES.items():
        lines += [f"## `[tool.pexbin.{key}]`", "", help, ""]
    lines += [
        "## Build settings",
        "",
        "Given as config-settings (`-C key=value`) or environment variables; the environment wins.",
        "",
        "| config-setting | environment | what |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `pexbin.{name}` | `{variable}` | {help} |" for name, (variable, help) in SETTINGS.items()]
    lines += ["", CACHE_DEFAULT]
    return "\n".join(lines).rstrip() + "\n"


def fields_schema(fields: Dict[str, dataclasses.Field]) -> Dict[str, Any]:
    return {key: {**f.metadata["kind"].schema(), "description": f.metadata["help"]} for key, f in fields.items()}


def table_schema(properties: Dict[str, Any]) -> Dict[str, Any]:
    """A table of these keys, each also in its Pants spelling, but not in both spellings at once."""
    # Each spelling required on its own: validate-pyproject's error report fails on a long `required` list.
    both = [{"allOf": [{"required": [key]}, {"required": [pants_name(key)]}]} for key in properties if "-" in key]
    spelled = {**properties, **{pants_name(k): v for k, v in properties.items() if "-" in k}}
    return {
        "type": "object",
        "additionalProperties": False,
        "properties": spelled,
        **({"not": {"anyOf": both}} if both else {}),
    }


def schema() -> Dict[str, Any]:
    """The JSON schema of `[tool.pexbin]` (for validate-pyproject and editors)."""
    binary: Dict[str, Any] = fields_schema(BINARY_FIELDS)
    extra = {k: {**kind.schema(), "description": help} for k, (kind, help, _) in BINARY_ONLY.items()}
    single = {k: {**kind.schema(), "description": help} for k, (kind, help, _) in SINGLE_BINARY_ONLY.items()}

    override = table_schema({**binary, **extra})
    single_binary = {
        **table_schema({**binary, **extra, **single}),
        "oneOf": [
            {"required": [spelling]} for key in ENTRY_POINT_KEYS for spelling in dict.fromkeys((key, pants_name(key)))
        ],
    }
    top: Dict[str, Any] = {**fields_schema(TABLE_FIELDS), **binary}
    top["overrides"] = {"type": "object", "description": NESTED_TABLES["overrides"], "additionalProperties": override}
    top["binaries"] = {
        "type": "object",
        "description": NESTED_TABLES["binaries"],
        "additionalProperties": single_binary,
    }
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "$id": "https://github.com/pex-backend/pex-backend/blob/main/pex_backend/resources/pexbin.schema.json",
        "title": "[tool.pexbin]",
        "description": "PEX executables built by the pex-backend build backend, one per entry point.",
        **table_schema(top),
    }


def schema_text() -> str:
    return json.dumps(schema(), indent=2, sort_keys=True) + "\n"


SCHEMA_PATH = Path(__file__).parents[1] / "resources" / "pexbin.schema.json"
"""The installed package's schema (validate-pyproject reads it); `--write` writes the checkout's."""
REFERENCE_PATH = Path(__file__).resolve().parents[2] / "docs" / "reference.md"
"""This checkout's reference page (where an editable install's package is)."""
GENERATED = (Path("docs", "reference.md"), Path("pex_backend", "resources", "pexbin.schema.json"))


def write_all(project: Path) -> List[Path]:
    """Write the reference page and the schema into `project`, which must be pex-backend's source checkout."""
    project = project.resolve()
    if read_pyproject(project).get("project", {}).get("name") != "pex-backend":
        raise ConfigError(
            "--project",
            f"{project} is not pex-backend's source checkout; `docs --write` rewrites its "
            f"{' and '.join(path.as_posix() for path in GENERATED)} (`pexbin docs` prints the reference)",
        )
    written = [project / path for path in GENERATED]
    for path, text in zip(written, (render_reference(), schema_text())):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return written


def validate_pyproject_plugin(tool_name: str) -> Dict[str, Any]:
    """The `validate_pyproject.tool_schema` entry point: the committed schema of `[tool.pexbin]`."""
    return json.loads(SCHEMA_PATH.read_text())
