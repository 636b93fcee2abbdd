"""The `[tool.pexbin]` table as one typed model: the keys that exist only at its top (`TableOptions`), those of single
binaries, the nested tables, and the validated whole (`PexbinConfig`).

Keys are kebab-case; the Pants `pex_binaries` spelling (snake_case) is accepted too."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Tuple

from .binary import BinaryOptions
from .kinds import (
    ENTRY_POINT,
    OUTPUT_NAME,
    PIP_VERSION,
    VERSION,
    Choice,
    Str,
    StrList,
    StrTable,
    option,
)

TABLE = "tool.pexbin"
# The pip pex resolves with unless `pip-version` says otherwise: the newest pip that pex knows and that runs on
# every Python this backend supports (3.9 and later), pinned so that a new pip release changes no build.
DEFAULT_PIP_VERSION = "26.0.1"
# The pex a build uses unless `pex-version` says otherwise: the one the tests run on, pinned (as Pants pins its
# default pex) so that a new pex release changes no build, and so that the build cache's copy of it can stand in
# for installing it.
DEFAULT_PEX_VERSION = "2.105.2"
BINARY_ONLY = {
    "output-name": (
        OUTPUT_NAME,
        "The file name of this binary's PEX, without `.pex`, instead of the one derived from its entry point.",
        'output-name = "hello-admin"',
    ),
}
SINGLE_BINARY_ONLY = {
    "entry-point": (
        ENTRY_POINT,
        "What this binary runs: `pkg.mod`, `pkg.mod:func` or a project file `path/app.py[:func]`.",
        'entry-point = "gunicorn.app.wsgiapp:run"',
    ),
    "script": (
        Str(),
        "A console script of any distribution in the PEX (the project or a requirement) for this binary to run.",
        'script = "uvicorn"',
    ),
    "executable": (
        Str(),
        "A file of the project, relative to its root, that this binary runs as its program though it cannot be "
        "imported (a script without `.py`, say); it is carried in the sdist.",
        'executable = "bin/migrate"',
    ),
}
ENTRY_POINT_KEYS = ("entry-point", "script", "executable")


@dataclass(frozen=True)
class TableOptions:
    """The keys that only exist at the top of `[tool.pexbin]`."""

    entry_points: Optional[Tuple[str, ...]] = option(
        StrList(ENTRY_POINT),
        None,
        "One PEX per item: a console script of the project, `pkg.mod`, `pkg.mod:func`, `path/app.py` or "
        "`path/app.py:func` (paths relative to the project root). Without it, one PEX per console script.",
        'entry-points = ["hello", "hello.admin:main", "src/hello/tools/report.py"]',
    )
    delegate_backend: Optional[str] = option(
        Str(
            pattern=r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::[A-Za-z_][A-Za-z0-9_.]*)?",
            shape="a PEP 517 backend, 'module' or 'module:object', e.g. 'hatchling.build'",
        ),
        None,
        "The PEP 517 backend that builds the project's wheel and sdist instead of setuptools, such as "
        "`hatchling.build`, `flit_core.buildapi`, `pdm.backend` or `poetry.core.masonry.api`; every hook is "
        "its, and pex-backend adds the PEX files. It must be listed in `build-system.requires`.",
        'delegate-backend = "hatchling.build"',
        pants=False,
    )
    resolves: Dict[str, str] = option(
        StrTable(),
        {},
        "Named lockfiles, relative to the project root: pex locks (`pex3 lock create`), PEP 751 "
        "`pylock.toml`, or a uv project's `uv.lock` (read through `uv export`). Lockfiles are added to the sdist "
        "automatically.",
        'resolves = { default = "pex.lock" }',
    )
    default_resolve: Optional[str] = option(
        Str(), None, "The resolve used by binaries that set no `resolve`.", 'default-resolve = "default"', pants=False
    )
    pex_version: Optional[str] = option(
        VERSION,
        None,
        f"The exact pex version used for the build. Unset, it is pex {DEFAULT_PEX_VERSION} (pinned by pex-backend). "
        "It is asked for as a build requirement unless the build cache already holds that pex.",
        'pex-version = "2.105.2"',
        pants=False,
    )
    pip_version: Optional[str] = option(
        PIP_VERSION,
        None,
        "The pip version pex resolves with: `latest`, `latest-compatible`, `vendored` or a version pex supports. "
        f"Unset, it is pip {DEFAULT_PIP_VERSION} (pinned by pex-backend, a modern pip that builds sdists through "
        "their own build backends), or pex's own default when `pex-version` pins a pex that may not know it.",
        'pip-version = "latest"',
        pants=False,
    )
    resolver: str = option(
        Choice(("uv", "pip")),
        "uv",
        "What resolves the requirements of each group of binaries: `uv` (uv resolves and installs them into a "
        "virtual environment, which pex takes them from) or `pip` (pex's own resolve, with pip). pip resolves "
        "wherever uv cannot (`platforms`, `complete-platforms`, `ignore-errors`, a pex lock, interpreter "
        "constraints the build interpreter does not meet), with one notice naming the key. A `uv.lock` resolve "
        "is exported by uv either way, and pip resolves from that export.",
        'resolver = "pip"',
        pants=False,
    )
    index_urls: Optional[Tuple[str, ...]] = option(
        StrList(),
        None,
        "Package indexes to resolve from instead of pip's configuration; `[]` means no index at all.",
        'index-urls = ["https://pypi.org/simple"]',
        pants=False,
    )
    find_links: Tuple[str, ...] = option(
        StrList(),
        (),
        "Local directories or URLs of wheels to resolve from, in addition to the indexes.",
        'find-links = ["wheelhouse"]',
        pants=False,
    )


def key_of(name: str) -> str:
    return name.replace("_", "-")


def model_fields(model: type) -> Dict[str, dataclasses.Field]:
    """The fields of a model class keyed by their kebab-case key."""
    return {key_of(f.name): f for f in dataclasses.fields(model)}


BINARY_FIELDS = model_fields(BinaryOptions)
SCIE_KEYS = tuple(key for key in BINARY_FIELDS if key.startswith("scie-"))
TABLE_FIELDS = model_fields(TableOptions)
NESTED_TABLES = {
    "overrides": "Per-entry-point field values: keys are entry points exactly as written in `entry-points` "
    "(several joined with commas), values are tables of fields; a value replaces the table's.",
    "binaries": "Single binaries, `[tool.pexbin.binaries.NAME]`, each running a module (`entry-point`) or a "
    "console script of any distribution (`script`) and taking any of the fields; written as `NAME.pex`.",
}


@dataclass(frozen=True)
class Override:
    """One `[tool.pexbin.overrides]` entry: the entry points it names and the fields it sets."""

    key: str
    entry_points: Tuple[str, ...]
    values: Mapping[str, Any]


@dataclass(frozen=True)
class SingleBinary:
    """One `[tool.pexbin.binaries.NAME]` table."""

    name: str
    entry_point: Optional[str]
    script: Optional[str]
    values: Mapping[str, Any]
    executable: Optional[str] = None


@dataclass(frozen=True)
class PexbinConfig:
    table: TableOptions
    defaults: Mapping[str, Any]
    """The binary fields set at the top of the table, by kebab-case key."""
    overrides: Tuple[Override, ...] = ()
    binaries: Tuple[SingleBinary, ...] = ()

    def referenced_files(self) -> Tuple[str, ...]:
        """Files of the project the table points at, which the sdist must carry."""
        files = list(self.table.resolves.values())
        for values in [self.defaults, *(o.values for o in self.overrides), *(b.values for b in self.binaries)]:
            files += values.get("complete-platforms", ())
            files += filter(None, [local_science(values)])
        files += [binary.executable for binary in self.binaries if binary.executable]
        return tuple(dict.fromkeys(files))


def local_science(values: Mapping[str, Any]) -> Optional[str]:
    """The `scie-science-binary` of these binary fields when it is a file of the project, not a URL."""
    science = values.get("scie-science-binary")
    return science if science and "://" not in science else None
