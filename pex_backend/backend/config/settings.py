"""Per-build settings from the frontend: environment variables first, then PEP 517 config-settings."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from pex_backend.bytecode import FALSE, TRUE, default_cache_dir
from pex_backend.errors import ConfigError

from .kinds import describe
from .load import did_you_mean

PREFIX = "pexbin."
SETTINGS = {
    "output-dir": (
        "PEXBIN_OUTPUT_DIR",
        "Directory the PEX files and the build record go to (default: beside the wheel); under pip, only the "
        "config-setting turns PEX files on.",
    ),
    "skip": ("PEXBIN_SKIP", "`true` builds the wheel alone, without PEX files."),
    "tags": ("PEXBIN_TAGS", "Comma-separated tags: build only binaries with `tag`, and none with `-tag`."),
    "cache-dir": (
        "PEXBIN_CACHE_DIR",
        "Where resolves and PEX files are kept for later builds with the same inputs "
        "(default: `pex-backend` in the platform's cache directory, as below).",
    ),
    "no-cache": ("PEXBIN_NO_CACHE", "`true` neither reads nor writes the build cache."),
}


@dataclass(frozen=True)
class BuildSettings:
    output_dir: Optional[Path] = None
    skip: bool = False
    tags: Tuple[str, ...] = ()
    cache_dir: Optional[Path] = field(default_factory=default_cache_dir)
    """None when the build cache is turned off."""

    def selects(self, binary_tags: Tuple[str, ...]) -> bool:
        """Pants' `--tag` rule: any included tag must be present, no excluded tag may be."""
        include = {tag for tag in self.tags if not tag.startswith("-")}
        exclude = {tag[1:] for tag in self.tags if tag.startswith("-")}
        if exclude & set(binary_tags):
            return False
        return not include or bool(include & set(binary_tags))


def is_own(key: object) -> bool:
    return isinstance(key, str) and key.startswith(PREFIX)


def own_settings(config_settings: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    return {k: v for k, v in (config_settings or {}).items() if is_own(k)}


def foreign_settings(config_settings: Optional[Mapping[str, Any]]) -> Optional[Dict[str, Any]]:
    """The config-settings meant for setuptools."""
    if config_settings is None:
        return None
    return {k: v for k, v in config_settings.items() if not is_own(k)}


def parse_tags(text: str) -> Tuple[str, ...]:
    """Comma-separated tags, `-tag` excluding one."""
    return tuple(tag.strip() for tag in text.split(",") if tag.strip())


def boolean(where: str, value: str) -> bool:
    if value.strip().lower() not in TRUE + FALSE:
        raise ConfigError(where, f"expected true or false, got {value!r}")
    return value.strip().lower() in TRUE


def directory(where: str, value: str) -> Path:
    """An absolute directory path that is a directory or can become one."""
    if not value.strip():
        raise ConfigError(where, "expected a directory path")
    if "\0" in value:
        raise ConfigError(where, f"{value!r} holds a NUL byte, which no path can")
    try:
        path = Path(value).expanduser()
    except RuntimeError:  # `~nosuchuser`, or `~` without a home
        raise ConfigError(where, f"{value!r}: {Path(value).parts[0]!r} names no home directory here") from None
    try:
        path = path.resolve()
        # The path, or else its nearest existing parent, must be a directory (the filesystem root always exists).
        existing = next(p for p in (path, *path.parents) if p.exists())
        is_directory = existing.is_dir()
    except (OSError, RuntimeError, ValueError) as exc:  # an unreadable parent, a symlink loop, an unencodable name
        raise ConfigError(where, f"{value!r} is not a usable path ({exc})") from None
    if not is_directory:
        raise ConfigError(where, f"expected a directory, but {existing} is a file")
    return path


def setting_text(key: str, name: str, value: Any) -> str:
    """A config-setting's value as text: frontends give a string, or a list of them for a repeated setting."""
    where = f"config-settings {key}"
    values = value if isinstance(value, list) else [value]
    for item in values:
        if not isinstance(item, str):
            raise ConfigError(where, f"expected a string, got {describe(item)}")
    if name != "tags" and len(values) != 1:
        raise ConfigError(where, f"expected one value, got {len(values)}: {', '.join(map(repr, values))}")
    return ",".join(values)


def read(config_settings: Optional[Mapping[str, Any]], environ: Mapping[str, str] = os.environ) -> BuildSettings:
    raw: Dict[str, Tuple[str, str]] = {}
    for key, value in own_settings(config_settings).items():
        name = key[len(PREFIX) :]
        if name not in SETTINGS:
            raise ConfigError(f"config-settings {key}", f"unknown setting{did_you_mean(name, SETTINGS)}")
        raw[name] = (f"config-settings {key}", setting_text(key, name, value))
    for name, (variable, _) in SETTINGS.items():
        if variable in environ:
            raw[name] = (f"environment variable {variable}", environ[variable])

    settings: Dict[str, Any] = {}
    if "output-dir" in raw:
        settings["output_dir"] = directory(*raw["output-dir"])
    if "skip" in raw:
        settings["skip"] = boolean(*raw["skip"])
    if "cache-dir" in raw:
        settings["cache_dir"] = directory(*raw["cache-dir"])
    if "no-cache" in raw and boolean(*raw["no-cache"]):
        settings["cache_dir"] = None
    if "tags" in raw:
        settings["tags"] = parse_tags(raw["tags"][1])
    return BuildSettings(**settings)
