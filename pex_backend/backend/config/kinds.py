"""Value kinds of the `[tool.pexbin]` model: how each is checked, described and put in the JSON schema."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple

from pex_backend.errors import ConfigError


def describe(value: object) -> str:
    """A short, TOML-flavoured description of what the user gave."""
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return type(value).__name__


class Kind:
    """One type of value: `parse` checks and normalises, `schema` and `type_name` describe it."""

    type_name = ""

    def parse(self, value: Any, key: str) -> Any:
        raise NotImplementedError

    def schema(self) -> Dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class Bool(Kind):
    type_name = "boolean"

    def parse(self, value: Any, key: str) -> bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"expected true or false, got {describe(value)}")
        return value

    def schema(self) -> Dict[str, Any]:
        return {"type": "boolean"}


@dataclass(frozen=True)
class Str(Kind):
    """A non-empty string, optionally matching a pattern that is explained by `shape`."""

    pattern: str = ""
    shape: str = ""
    empty: bool = False
    """Whether the empty string is a value (an argument, an environment variable's value)."""
    type_name = "string"

    def parse(self, value: Any, key: str) -> str:
        if not isinstance(value, str):
            raise ConfigError(key, f"expected a string, got {describe(value)}")
        if not value.strip() and not self.empty:
            raise ConfigError(key, "expected a non-empty string")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ConfigError(key, f"{value!r} is not {self.shape}")
        return value

    def schema(self) -> Dict[str, Any]:
        schema: Dict[str, Any] = {"type": "string"} if self.empty else {"type": "string", "minLength": 1}
        if self.pattern:
            schema["pattern"] = f"^(?:{self.pattern})$"
        return schema


@dataclass(frozen=True)
class Choice(Kind):
    """One of a fixed set of strings; `booleans` also accepts TOML booleans spelled as those strings."""

    choices: Tuple[str, ...]
    booleans: bool = False

    @property
    def type_name(self) -> str:  # type: ignore[override]
        return " / ".join(f'"{choice}"' for choice in self.choices)

    def parse(self, value: Any, key: str) -> str:
        if self.booleans and isinstance(value, bool) and str(value).lower() in self.choices:
            return str(value).lower()
        if not isinstance(value, str) or value not in self.choices:
            expected = ", ".join(repr(choice) for choice in self.choices)
            raise ConfigError(key, f"expected one of {expected}, got {describe(value)}")
        return value

    def schema(self) -> Dict[str, Any]:
        allowed: list = list(self.choices)
        if self.booleans:
            allowed += [choice == "true" for choice in self.choices if choice in ("true", "false")]
        return {"enum": allowed}


@dataclass(frozen=True)
class StrList(Kind):
    """An array of strings, each checked by `item`."""

    item: Str = Str()
    type_name = "array of strings"

    def parse(self, value: Any, key: str) -> Tuple[str, ...]:
        if not isinstance(value, list):
            raise ConfigError(key, f"expected an array of strings, got {describe(value)}")
        return tuple(self.item.parse(entry, f"{key}[{index}]") for index, entry in enumerate(value))

    def schema(self) -> Dict[str, Any]:
        return {"type": "array", "items": self.item.schema()}


@dataclass(frozen=True)
class StrTable(Kind):
    """A table from names (each matching `names`, when it is given) to strings, each checked by `item`."""

    item: Str = Str()
    names: Str = Str()
    type_name = "table of strings"

    def parse(self, value: Any, key: str) -> Dict[str, str]:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a table, got {describe(value)}")
        for name in value:
            self.names.parse(name, f"{key}.{name}")
        return {name: self.item.parse(entry, f"{key}.{name}") for name, entry in value.items()}

    def schema(self) -> Dict[str, Any]:
        schema: Dict[str, Any] = {"type": "object", "additionalProperties": self.item.schema()}
        if self.names.pattern:
            schema["propertyNames"] = {"pattern": f"^(?:{self.names.pattern})$"}
        return schema


def option(kind: Kind, default: Any, help: str, example: str, *, pants: bool = True) -> Any:
    """A model field; `pants` says whether the reference's `pex_binaries` knows it."""
    metadata = {"kind": kind, "help": help, "example": example, "pants": pants}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


# The shapes of the model's values, named by its fields and by the messages about them.
PLATFORM_SHAPE = "an abbreviated platform PLATFORM-IMPL-PYVER-ABI, e.g. 'linux_x86_64-cp-3.12.1-cp312'"
PLATFORM = Str(pattern=r"[A-Za-z0-9_.-]+-[a-z]{2}-(?:\d{2,}|\d+\.\d+(?:\.\d+)?)-[A-Za-z0-9_]+", shape=PLATFORM_SHAPE)
ARGUMENT = Str(empty=True)
ENV_NAME = Str(pattern=r"[A-Za-z_][A-Za-z0-9_]*", shape="an environment variable name (letters, digits, `_`)")
SCIE_PLATFORMS = (
    "current",
    "linux-aarch64",
    "musl-linux-aarch64",
    "linux-armv7l",
    "linux-powerpc64",
    "linux-riscv64",
    "linux-s390x",
    "linux-x86_64",
    "musl-linux-x86_64",
    "macos-aarch64",
    "macos-x86_64",
    "windows-aarch64",
    "windows-x86_64",
)
VERSION = Str(pattern=r"\d+(?:\.\d+)*", shape="an exact version like '2.105.2'")
PIP_VERSION = Str(
    pattern=r"latest|latest-compatible|vendored|\d+(?:\.\d+)*(?:-patched)?",
    shape="'latest', 'latest-compatible', 'vendored' or a pip version like '24.2'",
)
ENTRY_POINT = Str(
    pattern=r"[^:\s]+(?::[A-Za-z_][A-Za-z0-9_.]*)?",
    shape="a console script, 'pkg.mod', 'pkg.mod:func', 'path/app.py' or 'path/app.py:func'",
)
OUTPUT_NAME = Str(pattern=r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*", shape="a file name without directories or a leading dot")
