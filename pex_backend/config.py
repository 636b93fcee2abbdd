"""The `[tool.pexbin]` table as one typed, validated model.

Every key is declared once here, with its kind, default and help; the docs, the JSON schema and the error
messages are all derived from these declarations. Keys are kebab-case; the Pants `pex_binaries` spelling
(snake_case) is accepted too.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Mapping, Optional, Tuple

from packaging.requirements import InvalidRequirement, Requirement

from .errors import ConfigError
from .kinds import Bool, Choice, Kind, Str, StrList, StrTable, describe

TABLE = "tool.pexbin"
PLATFORM_SHAPE = "an abbreviated platform PLATFORM-IMPL-PYVER-ABI, e.g. 'linux_x86_64-cp-3.12.1-cp312'"
PLATFORM = Str(pattern=r"[A-Za-z0-9_.-]+-[a-z]{2}-(?:\d{2,}|\d+\.\d+(?:\.\d+)?)-[A-Za-z0-9_]+", shape=PLATFORM_SHAPE)
VERSION = Str(pattern=r"\d+(?:\.\d+)*", shape="an exact version like '2.105.2'")
PIP_VERSION = Str(
    pattern=r"latest|latest-compatible|vendored|\d+(?:\.\d+)*(?:-patched)?",
    shape="'latest', 'latest-compatible', 'vendored' or a pip version like '24.2'",
)
ENTRY_POINT = Str(
    pattern=r"[^:\s]+(?::[A-Za-z_][A-Za-z0-9_.]*)?",
    shape="a console script, 'pkg.mod', 'pkg.mod:func', 'path/app.py' or 'path/app.py:func'",
)
# The pip pex resolves with unless `pip-version` says otherwise: the newest pip that pex knows and that runs on
# every Python this backend supports (3.9 and later), pinned so that a new pip release changes no build.
DEFAULT_PIP_VERSION = "26.0.1"
# The pex a build uses unless `pex-version` says otherwise: the one the tests run on, pinned (as Pants pins its
# default pex) so that a new pex release changes no build, and so that the build cache's copy of it can stand in
# for installing it.
DEFAULT_PEX_VERSION = "2.105.2"
OUTPUT_NAME = Str(pattern=r"[A-Za-z0-9_+-][A-Za-z0-9_.+-]*", shape="a file name without directories or a leading dot")


def option(kind: Kind, default: Any, help: str, example: str, *, pants: bool = True) -> Any:
    """A model field; `pants` says whether the reference's `pex_binaries` knows it."""
    metadata = {"kind": kind, "help": help, "example": example, "pants": pants}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


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
# What pex options the backend sets itself, by the key (or the part of the build) that owns them; an
# `extra-build-args` entry that is one of them is refused.
OWNED_PEX_ARGS = {
    ("-o", "--output-file"): "the output (`output-name`)",
    ("-e", "--entry-point", "-m", "-c", "--script", "--console-script", "--exe", "--executable", "--python-script"): (
        "the entry point (`entry-points`, `entry-point`, `script`, `executable`)"
    ),
    ("-D", "--sources-directory", "-P", "--package", "-M", "--module", "--project", "-r", "--requirement"): (
        "the sources (the project's wheel, `include-sources`)"
    ),
    ("--pre-resolved-dists", "--intransitive", "--exclude", "--dependency-group", "--group"): (
        "the requirements (`dependencies`, `include-requirements`)"
    ),
    (
        "--platform",
        "--complete-platform",
        "--interpreter-constraint",
        "--python",
        "--python-path",
        "--resolve-local-platforms",
    ): "the targets (`platforms`, `complete-platforms`, `interpreter-constraints`)",
    (
        "--lock",
        "--pylock",
        "--index",
        "--index-url",
        "-i",
        "--no-pypi",
        "--pypi",
        "-f",
        "--find-links",
        "--repo",
        "--use-pip-config",
        "--pip-version",
        "--constraints",
        "--venv-repository",
    ): "the resolve (`resolves`, `index-urls`, `find-links`, `pip-version`)",
    ("--layout", "--venv", "--sh-boot", "--no-sh-boot", "--scie", "--par"): (
        "the shape of the output (`layout`, `execution-mode`, `sh-boot`, `scie`)"
    ),
}


def owned_pex_arg(arg: str) -> Optional[str]:
    """What part of the build owns the pex option `arg` (`--opt`, `--opt=value` or `-oVALUE`), if any."""
    name = arg.split("=", 1)[0]
    for names, owner in OWNED_PEX_ARGS.items():
        if name in names or (not name.startswith("--") and len(name) > 2 and name[:2] in names):
            return owner
    return None


@dataclass(frozen=True)
class BinaryOptions:
    """The fields of one PEX. Set at the top of the table they are defaults for every binary."""

    args: Tuple[str, ...] = option(
        StrList(ARGUMENT),
        (),
        "Command-line arguments frozen into the PEX, passed to the program before the user's own "
        "(pex `--inject-args`; `{pex.env.NAME}` is replaced by that environment variable when it runs).",
        'args = ["serve", "--port", "8080"]',
    )
    check: str = option(
        Choice(("none", "warn", "error")),
        "warn",
        "Whether pex checks that a zipapp PEX can be imported by Python's `zipimport` (it cannot when the PEX "
        "needs ZIP64, over 65,535 entries or 4 GiB): `none`, `warn` or `error`. Other layouts are not checked.",
        'check = "error"',
    )
    complete_platforms: Tuple[str, ...] = option(
        StrList(),
        (),
        "Paths, relative to the project root, of complete-platform JSON files (as written by "
        "`pex3 interpreter inspect --markers --tags` or `python -m pex_backend inspect-platform`). "
        "The PEX is built for all of them. The files are added to the sdist automatically.",
        'complete-platforms = ["platforms/linux-py312.json"]',
    )
    compress: bool = option(
        Bool(),
        True,
        "Whether the zip entries of a zipapp PEX (or of a packed PEX's zips) are compressed; `false` stores them, "
        "a larger file that starts faster. Loose PEX files are not zipped.",
        "compress = false",
    )
    dependencies: Tuple[str, ...] = option(
        StrList(),
        (),
        "Extra requirement strings added to the PEX on top of the project's own `dependencies` (extras and "
        "markers allowed). An entry `!name` instead excludes the distribution `name` (and what only it pulls "
        "in) from the PEX.",
        'dependencies = ["uvicorn[standard]>=0.30", "!pywin32"]',
    )
    description: Optional[str] = option(
        Str(),
        None,
        "A human-readable description, kept in the build record and shown by "
        "`python -m pex_backend list --documented`.",
        'description = "The admin console"',
    )
    emit_warnings: Optional[bool] = option(
        Bool(), None, "Whether the PEX emits its runtime warnings (pex's default: it does).", "emit-warnings = false"
    )
    env: Dict[str, str] = option(
        StrTable(ARGUMENT, ENV_NAME),
        {},
        "Environment variables frozen into the PEX, set for the program when it runs (pex `--inject-env`).",
        'env = { LOG_LEVEL = "info" }',
    )
    execution_mode: str = option(
        Choice(("zipapp", "venv")),
        "zipapp",
        "How the PEX runs: `zipapp` (unpacks and runs from its zip; fastest cold start) or `venv` (builds a "
        "virtual environment on first run; fastest afterwards, most compatible `sys.path`).",
        'execution-mode = "venv"',
    )
    extra_build_args: Tuple[str, ...] = option(
        StrList(ARGUMENT),
        (),
        "Further arguments for the pex run that builds this PEX, after the backend's own (for pex options the "
        "table has no key for). Options the backend sets itself (the output, entry point, sources, "
        "requirements, targets and resolve) are refused.",
        'extra-build-args = ["--no-strip-pex-env"]',
    )
    ignore_errors: bool = option(
        Bool(),
        False,
        "Build even when pex's own check finds the resolved requirements inconsistent. The default pip (a modern "
        "resolver) refuses conflicting requirements itself; pex's check catches what an older resolver "
        '(`pip-version = "vendored"`) lets through.',
        "ignore-errors = true",
    )
    include_requirements: bool = option(
        Bool(),
        True,
        "Whether the project's third-party requirements go into the PEX; `false` puts only the project's own wheel in.",
        "include-requirements = false",
    )
    include_sources: bool = option(
        Bool(),
        True,
        "Whether the project's own wheel goes into the PEX; `false` puts only its requirements in (for a "
        "`script` of a requirement, or an `executable`).",
        "include-sources = false",
    )
    include_tools: bool = option(
        Bool(),
        False,
        "Include the pex tools, so that `PEX_TOOLS=1 ./app.pex --help` works.",
        "include-tools = true",
    )
    inherit_path: Optional[str] = option(
        Choice(("false", "fallback", "prefer"), booleans=True),
        None,
        "Whether the PEX sees the `sys.path` of the environment it runs in: `false` not at all, `fallback` "
        "after its own dependencies, `prefer` before them.",
        'inherit-path = "fallback"',
    )
    interpreter_constraints: Tuple[str, ...] = option(
        StrList(),
        (),
        "The interpreters the PEX is for, pip-style (`CPython>=3.10,<4`, or `>=3.10` for CPython); several "
        "entries are OR-ed. Defaults to the project's `requires-python`. The PEX records them and picks a "
        "matching interpreter when it runs.",
        'interpreter-constraints = ["CPython>=3.10,<3.14"]',
    )
    layout: str = option(
        Choice(("zipapp", "packed", "loose")),
        "zipapp",
        "`zipapp` writes one `.pex` file; `packed` and `loose` write a directory `NAME.pex/` that runs with "
        "`python NAME.pex/` (packed zips each dependency, loose leaves every file as is).",
        'layout = "packed"',
    )
    per_platform: bool = option(
        Bool(),
        False,
        "Write one PEX per platform (the platform in the file name, only its wheels inside) instead of one "
        "multiplatform PEX.",
        "per-platform = true",
        pants=False,
    )
    platforms: Tuple[str, ...] = option(
        StrList(PLATFORM),
        (),
        "Abbreviated platforms (`PLATFORM-IMPL-PYVER-ABI`) the PEX is built for. Foreign platforms need wheels "
        "for every requirement; use a 3-part PYVER (`3.12.1`) when markers need the full version.",
        'platforms = ["linux_x86_64-cp-3.12.1-cp312", "macosx_11_0_arm64-cp-312-cp312"]',
    )
    resolve: Optional[str] = option(
        Str(),
        None,
        "The name of the resolve in `resolves` this PEX is built from; defaults to `default-resolve`.",
        'resolve = "legacy"',
    )
    resolve_local_platforms: Optional[bool] = option(
        Bool(),
        None,
        "For each of `platforms`, use a matching local interpreter when there is one, so requirements "
        "available only as sdists can be built for it; otherwise accept only wheels.",
        "resolve-local-platforms = true",
    )
    restartable: bool = option(
        Bool(),
        False,
        "Whether `python -m pex_backend run NAME` rebuilds and restarts this binary when a source file of the "
        "project changes (`--restart` / `--no-restart` decide for one run).",
        "restartable = true",
    )
    sbom: bool = option(
        Bool(),
        False,
        "Also write a CycloneDX JSON SBOM beside the PEX, `NAME.cdx.json`: the project, every distribution in the "
        "PEX with its version, package URL and the sha256 of the artifact it came from, their dependency graph, "
        "the platforms, and the tools that built it. Byte-identical across builds of the same sources "
        "(`SOURCE_DATE_EPOCH` sets its timestamp). Asks for `cyclonedx-python-lib` as a build requirement.",
        "sbom = true",
        pants=False,
    )
    scie: Optional[str] = option(
        Choice(("lazy", "eager")),
        None,
        "Also write a scie: a native executable holding the PEX and a portable CPython (PyPy) that runs where no "
        "Python is installed, beside the PEX and named as it is without `.pex` (pex `--scie`). `eager` embeds the "
        "interpreter; `lazy` fetches it on the first run. Pex needs the `science` tool and the interpreter "
        "distributions to build it: it downloads them, unless `scie-science-binary` and `scie-assets-base-url` "
        "point at local copies. The other `scie-*` fields only take effect with this one.",
        'scie = "eager"',
    )
    scie_args: Tuple[str, ...] = option(
        StrList(ARGUMENT),
        (),
        "Arguments for `scie-exe` (scie placeholders allowed).",
        'scie-args = ["--verbose"]',
    )
    scie_assets_base_url: Optional[str] = option(
        Str(),
        None,
        "The URL of a mirror made with `science download ...` of the `ptex`, `scie-jump` and interpreter "
        "distributions pex's `science` fetches, instead of their GitHub releases.",
        'scie-assets-base-url = "https://mirror.example.com/science"',
        pants=False,
    )
    scie_bind_resource_path: Tuple[str, ...] = option(
        StrList(Str(pattern=r"[A-Za-z_][A-Za-z0-9_]*=.+", shape="`ENV_NAME=path/of/resource`")),
        (),
        "Environment variables to bind to the path of a resource in the PEX, `NAME=path/of/resource` (`/` separated).",
        'scie-bind-resource-path = ["CONFIG=app/default.toml"]',
    )
    scie_busybox: Optional[str] = option(
        Str(),
        None,
        "Make the scie a BusyBox over these entry points (comma-separated): console scripts, `name=module:func`, "
        "`@` for every console script in the PEX, `@project` for a project's, `!name` to leave one out.",
        'scie-busybox = "@"',
    )
    scie_env: Tuple[str, ...] = option(
        StrList(Str(pattern=r"[A-Za-z_][A-Za-z0-9_]*=.*", shape="`NAME=value`")),
        (),
        "Environment variables for `scie-exe`, `NAME=value` (scie placeholders allowed).",
        'scie-env = ["MODE=prod"]',
    )
    scie_exe: Optional[str] = option(
        Str(),
        None,
        "A custom program for the scie to run instead of the PEX's entry point (scie placeholders allowed).",
        'scie-exe = "{scie.env.SHELL}"',
    )
    scie_hash_alg: Optional[str] = option(
        Str(),
        None,
        "Also write a checksum file beside each scie, named `SCIE.ALG`, as the shasum tools read it (`md5`, "
        "`sha1`, `sha256`, `sha384`, `sha512`, ...).",
        'scie-hash-alg = "sha256"',
    )
    scie_load_dotenv: Optional[bool] = option(
        Bool(),
        None,
        "Whether the scie loads `.env` files into its environment (pex's default: it does not).",
        "scie-load-dotenv = true",
    )
    scie_name_style: Optional[str] = option(
        Choice(("dynamic", "platform-parent-dir", "platform-file-suffix")),
        None,
        "How scies are named: `dynamic` (pex's default) adds the platform as a suffix only when there are "
        "several, `platform-file-suffix` always adds it, `platform-parent-dir` puts each in a directory named "
        "after its platform.",
        'scie-name-style = "platform-file-suffix"',
    )
    scie_pbs_debug: Optional[bool] = option(
        Bool(), None, "Whether the Python Standalone Builds CPython is a debug build.", "scie-pbs-debug = true"
    )
    scie_pbs_free_threaded: Optional[bool] = option(
        Bool(),
        None,
        "Whether the Python Standalone Builds CPython is free-threaded (on by itself for free-threaded wheels).",
        "scie-pbs-free-threaded = true",
    )
    scie_pbs_release: Optional[str] = option(
        Str(),
        None,
        "The Python Standalone Builds release (a date, `20240713`) the scie's CPython comes from; the latest by "
        "default.",
        'scie-pbs-release = "20240713"',
    )
    scie_pbs_stripped: Optional[bool] = option(
        Bool(),
        None,
        "Whether the Python Standalone Builds CPython is stripped of debug symbols (less than half the size).",
        "scie-pbs-stripped = true",
    )
    scie_pex_entrypoint_env_passthrough: Optional[bool] = option(
        Bool(),
        None,
        "Whether `PEX_INTERPRETER`, `PEX_SCRIPT` and `PEX_MODULE` can replace the scie's entry point when it runs "
        "(pex's default: yes for a single entry point, no for a BusyBox).",
        "scie-pex-entrypoint-env-passthrough = false",
    )
    scie_platform: Tuple[str, ...] = option(
        StrList(Str(pattern="|".join(SCIE_PLATFORMS), shape=f"one of {', '.join(SCIE_PLATFORMS)}")),
        (),
        "The platforms to write a scie for (`current` for this machine's); by default those the PEX's targets imply.",
        'scie-platform = ["linux-x86_64", "macos-aarch64"]',
    )
    scie_python_version: Optional[str] = option(
        Str(pattern=r"\d+\.\d+(?:\.\d+)?", shape="a Python version like '3.12' or '3.12.4'"),
        None,
        "The portable CPython version, `3.12` or `3.12.4`; by default pex picks one the PEX's targets allow.",
        'scie-python-version = "3.12"',
    )
    scie_science_binary: Optional[str] = option(
        Str(),
        None,
        "A `science` binary for pex to build the scie with: a path relative to the project root, or a URL to fetch "
        "it from. Without it pex uses a compatible `science` on the PATH, or downloads one from GitHub.",
        'scie-science-binary = "tools/science"',
        pants=False,
    )
    sh_boot: bool = option(
        Bool(),
        False,
        "Boot the zipapp PEX with a small `/bin/sh` script instead of a Python shebang: it finds an interpreter "
        "where the shebang's would not, and starts faster once the PEX is installed (pex `--sh-boot`).",
        "sh-boot = true",
    )
    shebang: Optional[str] = option(
        Str(),
        None,
        "The PEX's shebang line (without `#!`). By default pex names the build interpreter (`python3.X`); for "
        "`platforms` or `complete-platforms` the default is `/usr/bin/env python3`, so that no one Python is pinned.",
        'shebang = "/usr/bin/env python3"',
    )
    strip_pex_env: bool = option(
        Bool(),
        True,
        "Whether the PEX removes `PEX_*` variables from the environment before running the program.",
        "strip-pex-env = false",
    )
    tags: Tuple[str, ...] = option(
        StrList(),
        (),
        "Arbitrary strings; the `pexbin.tags` config setting builds only the binaries with (`tag`) or "
        "without (`-tag`) a tag.",
        'tags = ["server"]',
    )
    validate_entry_point: bool = option(
        Bool(),
        False,
        "Import the entry point in a separate process when the PEX is built, so that a missing module or "
        "function fails the build (the import may have side effects).",
        "validate-entry-point = true",
    )
    venv_hermetic_scripts: bool = option(
        Bool(),
        True,
        'With `execution-mode = "venv"`: whether the venv\'s `pex` script and console scripts run Python '
        "isolated (`-sE`), so that `PYTHONPATH` does not reach them; `false` lets it (pex "
        "`--non-hermetic-venv-scripts`).",
        "venv-hermetic-scripts = false",
    )
    venv_site_packages_copies: bool = option(
        Bool(),
        False,
        'With `execution-mode = "venv"`: populate the venv\'s site-packages with hard links or copies instead of '
        "symlinks, for tools confused by symlinked files.",
        "venv-site-packages-copies = true",
    )


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
        Str(pattern=r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*(?::[A-Za-z_][A-Za-z0-9_.]*)?",
            shape="a PEP 517 backend, 'module' or 'module:object', e.g. 'hatchling.build'"),
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
        "Named lockfiles, relative to the project root: pex locks (`pex3 lock create`) or PEP 751 "
        "`pylock.toml`. Lockfiles are added to the sdist automatically.",
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
