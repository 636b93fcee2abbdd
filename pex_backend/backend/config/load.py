"""The `[tool.pexbin]` table read into the model (`table`, `binary`): unknown keys answered with "did you mean", a
key given in both spellings refused, every value parsed by its kind, and the references between keys checked."""

from __future__ import annotations

import difflib
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from packaging.requirements import InvalidRequirement, Requirement

from pex_backend.errors import ConfigError

from .binary import BinaryOptions
from .kinds import OUTPUT_NAME, describe
from .owned import owned_pex_arg
from .table import (
    BINARY_FIELDS,
    BINARY_ONLY,
    ENTRY_POINT_KEYS,
    NESTED_TABLES,
    SINGLE_BINARY_ONLY,
    TABLE,
    TABLE_FIELDS,
    Override,
    PexbinConfig,
    SingleBinary,
    TableOptions,
    key_of,
)


def did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(key_of(name), list(known), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def canonical_keys(table: Mapping[str, Any], path: str, known: Iterable[str]) -> Dict[str, Tuple[str, Any]]:
    """Each value under its kebab-case key, with the spelling the user wrote (for messages).

    Unknown keys and a key given in both spellings are errors.
    """
    known = list(known)
    result: Dict[str, Tuple[str, Any]] = {}
    for raw, value in table.items():
        key = key_of(raw)
        if key not in known:
            raise ConfigError(
                f"{path}.{raw}", f"unknown key{did_you_mean(raw, known)} (known keys: {', '.join(sorted(known))})"
            )
        if key in result:
            raise ConfigError(f"{path}.{raw}", f"given twice, as {result[key][0]!r} and {raw!r}; keep one spelling")
        result[key] = (raw, value)
    return result


def parse_binary_fields(table: Mapping[str, Any], path: str, extra: Mapping[str, tuple]) -> Dict[str, Any]:
    """Check the binary fields (plus `extra` keys) of one table; returns only the keys that were set."""
    values = canonical_keys(table, path, [*BINARY_FIELDS, *extra])
    parsed: Dict[str, Any] = {}
    for key, (raw, value) in values.items():
        kind = extra[key][0] if key in extra else BINARY_FIELDS[key].metadata["kind"]
        parsed[key] = kind.parse(value, f"{path}.{raw}")
        if key == "dependencies":
            check_requirements(parsed[key], f"{path}.{raw}")
        if key == "extra-build-args":
            check_extra_build_args(parsed[key], f"{path}.{raw}")
    return parsed


def check_requirements(requirements: Iterable[str], path: str) -> None:
    for index, text in enumerate(requirements):
        try:
            Requirement(text[1:] if text.startswith("!") else text)
        except InvalidRequirement as exc:
            raise ConfigError(
                f"{path}[{index}]", f"{text!r} is not a requirement string ({str(exc).splitlines()[0]})"
            ) from None


def check_extra_build_args(args: Iterable[str], path: str) -> None:
    for index, arg in enumerate(args):
        owner = owned_pex_arg(arg)
        if owner:
            raise ConfigError(
                f"{path}[{index}]", f"{arg!r} is a pex option the backend sets itself, for {owner}; use that key"
            )


def parse_overrides(spelled: str, table: Any) -> Tuple[Override, ...]:
    path = f"{TABLE}.{spelled}"
    if not isinstance(table, dict):
        raise ConfigError(path, f"expected a table of entry points to tables of fields, got {describe(table)}")
    overrides = []
    for key, values in table.items():
        entry_points = tuple(part.strip() for part in key.split(","))
        if not all(entry_points):
            raise ConfigError(f'{path}."{key}"', "expected entry points separated by single commas")
        if not isinstance(values, dict):
            raise ConfigError(f'{path}."{key}"', f"expected a table of fields, got {describe(values)}")
        overrides.append(Override(key, entry_points, parse_binary_fields(values, f'{path}."{key}"', BINARY_ONLY)))
    return tuple(overrides)


def parse_binaries(spelled: str, table: Any) -> Tuple[SingleBinary, ...]:
    path = f"{TABLE}.{spelled}"
    if not isinstance(table, dict):
        raise ConfigError(path, f"expected a table of binary names to tables, got {describe(table)}")
    binaries = []
    for name, values in table.items():
        where = f"{path}.{name}"
        OUTPUT_NAME.parse(name, where)
        if not isinstance(values, dict):
            raise ConfigError(where, f"expected a table with `entry-point` or `script`, got {describe(values)}")
        fields = parse_binary_fields(values, where, {**SINGLE_BINARY_ONLY, **BINARY_ONLY})
        given = [key for key in ENTRY_POINT_KEYS if key in fields]
        if len(given) != 1:
            found = f" (it sets {' and '.join(f'`{key}`' for key in given)})" if given else ""
            raise ConfigError(where, f"expected exactly one of `entry-point`, `script` and `executable`{found}")
        entry_point, script, executable = (fields.pop(key, None) for key in ENTRY_POINT_KEYS)
        binaries.append(SingleBinary(name, entry_point, script, fields, executable))
    return tuple(binaries)


def load(pyproject: Mapping[str, Any]) -> Optional[PexbinConfig]:
    """The validated `[tool.pexbin]` table of a parsed pyproject.toml, or None if there is none."""
    tool = pyproject.get("tool", {})
    if not isinstance(tool, dict) or "pexbin" not in tool:
        return None
    raw = tool["pexbin"]
    if not isinstance(raw, dict):
        raise ConfigError(TABLE, f"expected a table, got {describe(raw)}")
    values = canonical_keys(raw, TABLE, [*TABLE_FIELDS, *BINARY_FIELDS, *NESTED_TABLES])
    overrides = parse_overrides(*values.pop("overrides")) if "overrides" in values else ()
    binaries = parse_binaries(*values.pop("binaries")) if "binaries" in values else ()
    table = TableOptions(
        **{
            TABLE_FIELDS[key].name: TABLE_FIELDS[key].metadata["kind"].parse(value, f"{TABLE}.{spelled}")
            for key, (spelled, value) in values.items()
            if key in TABLE_FIELDS
        }
    )
    defaults = parse_binary_fields({raw: v for k, (raw, v) in values.items() if k in BINARY_FIELDS}, TABLE, {})
    config = PexbinConfig(table, defaults, overrides, binaries)
    check_resolves(config)
    return config


def check_resolves(config: PexbinConfig) -> None:
    names = config.table.resolves
    default = config.table.default_resolve
    if default is not None and default not in names:
        raise ConfigError(
            f"{TABLE}.default-resolve", f"{default!r} is not a name in `resolves`{did_you_mean(default, names)}"
        )
    places = [(TABLE, config.defaults)] + [(f'{TABLE}.overrides."{o.key}"', o.values) for o in config.overrides]
    places += [(f"{TABLE}.binaries.{b.name}", b.values) for b in config.binaries]
    for where, values in places:
        resolve = values.get("resolve")
        if resolve is not None and resolve not in names:
            known = f" (known: {', '.join(sorted(names))})" if names else "; `resolves` declares none"
            raise ConfigError(f"{where}.resolve", f"{resolve!r} is not a name in `resolves`{known}")


def binary_options(values: Mapping[str, Any]) -> BinaryOptions:
    """A BinaryOptions from kebab-case field values (unset fields keep their defaults)."""
    return BinaryOptions(**{BINARY_FIELDS[key].name: value for key, value in values.items() if key in BINARY_FIELDS})
