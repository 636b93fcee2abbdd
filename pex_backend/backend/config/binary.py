"""The fields of one PEX (`BinaryOptions`), each declared once with its kind, default, help and example: the docs,
the JSON schema and the error messages are derived from these declarations."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .kinds import ARGUMENT, ENV_NAME, PLATFORM, SCIE_PLATFORMS, Bool, Choice, Str, StrList, StrTable, option


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
        "table has no key for). An option the backend sets itself (the output, entry point, sources, "
        "requirements, targets, resolve, or the shape of the output) is refused, naming the key that owns it.",
        'extra-build-args = ["--runtime-pex-root", "/var/cache/app/pex"]',
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
