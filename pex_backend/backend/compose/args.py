"""The pex options of a build, from the binary's fields and its group's targets, resolver and lockfile."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Callable, List, Optional, Sequence, Tuple

from packaging.requirements import Requirement

from pex_backend.backend.config.table import DEFAULT_PEX_VERSION, DEFAULT_PIP_VERSION, TableOptions
from pex_backend.backend.constraints import running_interpreter_matches
from pex_backend.backend.inputs import complete_platform_file, lockfile
from pex_backend.backend.plan import BinarySpec, ResolveGroup
from pex_backend.backend.wheel import WheelContents
from pex_backend.pex.workers import Interpreter, pex_version

from .keys import stable

# For foreign targets the build interpreter's own `python3.X` would pin one of them; the PEX picks among the rest.
PORTABLE_SHEBANG = "/usr/bin/env python3"


def target_args(
    group: ResolveGroup, project_root: Path, interpreter: Interpreter, ask: Optional[Callable[[Sequence[str]], bool]]
) -> List[str]:
    """pex's target options for `group`. `ask`: a pex worker's answer to whether the build interpreter meets the
    group's interpreter constraints (`constraints.running_interpreter_matches`)."""
    if group.platforms or group.complete_platforms:
        # As in Pants, explicit platforms replace the constraints: pex would add local interpreters as targets.
        args = [arg for platform in group.platforms for arg in ("--platform", platform)]
        for index, path in enumerate(group.complete_platforms):
            key = f"{group.binaries[0].key_of('complete-platforms')}[{index}]"
            args += ["--complete-platform", str(complete_platform_file(project_root, path, key))]
        if group.resolve_local_platforms:
            args.append("--resolve-local-platforms")
        return args
    args = [arg for constraint in group.interpreter_constraints for arg in ("--interpreter-constraint", constraint)]
    if running_interpreter_matches(group.interpreter_constraints, interpreter.answers, ask):
        # The search path too: with constraints, pex would otherwise add every matching interpreter it knows.
        args += ["--python", interpreter.python, "--python-path", interpreter.directory]
    return args


def pip_version(table: TableOptions) -> Optional[str]:
    """The pip pex resolves with: the table's, else our pinned default, unless the pex that runs (the one
    `pex-version` pins) does not know that pip: then pex's own default."""
    if table.pip_version:
        return table.pip_version
    return DEFAULT_PIP_VERSION if pex_knows_pip(DEFAULT_PIP_VERSION) else None


def pex_knows_pip(version: str) -> bool:
    try:
        if (pex_version(), version) == (DEFAULT_PEX_VERSION, DEFAULT_PIP_VERSION):
            return True  # known without importing pex's pip module (tests/pex/test_no_change.py checks it)
        from pex.pip.version import PipVersion
    except ImportError:  # a command showing what a build would do, without pex: the build asks the pex it runs
        return True
    return any(str(known) == version for known in PipVersion.values())


def resolver_args(table: TableOptions) -> List[str]:
    """Where and how to resolve; only for builds that resolve (builds from pre-resolved wheels take none of it)."""
    args: List[str] = []
    if table.index_urls is not None:
        args += ["--no-pypi"] + [arg for url in table.index_urls for arg in ("--index-url", url)]
    else:
        args.append("--use-pip-config")
    for link in table.find_links:
        args += ["--find-links", link]
    if pip_version(table):
        args += ["--pip-version", str(pip_version(table))]
    return args


def binary_args(binary: BinarySpec) -> List[str]:
    o = binary.options
    args = list(binary.entry_point.pex_args)
    args.append(f"--layout={o.layout}")
    if o.execution_mode == "venv":
        args.append("--venv")
    if o.emit_warnings is not None:
        args.append("--emit-warnings" if o.emit_warnings else "--no-emit-warnings")
    if o.inherit_path is not None:
        args.append(f"--inherit-path={o.inherit_path}")
    args.append("--strip-pex-env" if o.strip_pex_env else "--no-strip-pex-env")
    if o.include_tools:
        args.append("--include-tools")
    if o.shebang:
        args.append(f"--python-shebang={o.shebang}")
    elif o.platforms or o.complete_platforms:
        args.append(f"--python-shebang={PORTABLE_SHEBANG}")
    if o.ignore_errors:
        args.append("--ignore-errors")
    for name in binary.excludes:
        args += ["--exclude", name]
    if o.args:
        args.append(f"--inject-args={shlex.join(o.args)}")  # pex splits each value as a shell would
    args += [f"--inject-env={name}={value}" for name, value in sorted(o.env.items())]
    if o.check != "warn":  # pex's default, as Pants'
        args.append(f"--check={o.check}")
    if not o.compress:
        args.append("--no-compress")
    if o.sh_boot:
        args.append("--sh-boot")
    if o.validate_entry_point and binary.entry_point.module:  # pex validates a module entry point alone
        args.append("--validate-entry-point")
    if o.execution_mode == "venv" and not o.venv_hermetic_scripts:
        args.append("--non-hermetic-venv-scripts")
    if o.execution_mode == "venv" and o.venv_site_packages_copies:
        args.append("--venv-site-packages-copies")
    return [*args, *scie_args(binary), *o.extra_build_args]


def stable_args(binary: BinarySpec) -> List[str]:
    """`binary_args` as cache keys see them: a project file's path replaced by its digest."""
    return [stable(arg) for arg in binary_args(binary)]


def scie_args(binary: BinarySpec) -> List[str]:
    """The `scie` fields as pex options (none without `scie`)."""
    o = binary.options
    if not o.scie:
        return []
    args = [f"--scie={o.scie}"]
    values = {
        "--scie-exe": o.scie_exe,
        "--scie-busybox": o.scie_busybox,
        "--scie-name-style": o.scie_name_style,
        "--scie-pbs-release": o.scie_pbs_release,
        "--scie-python-version": o.scie_python_version,
        "--scie-hash-alg": o.scie_hash_alg,
        "--scie-assets-base-url": o.scie_assets_base_url,
    }
    args += [f"{option}={value}" for option, value in values.items() if value]
    if o.scie_science_binary:  # a URL, or the project file's absolute path (plan), which the cache key digests
        args += ["--scie-science-binary", o.scie_science_binary]
    lists = {"--scie-args": o.scie_args, "--scie-env": o.scie_env, "--scie-platform": o.scie_platform}
    lists["--scie-bind-resource-path"] = o.scie_bind_resource_path
    args += [f"{option}={value}" for option, items in lists.items() for value in items]
    switches = {
        "scie-load-dotenv": o.scie_load_dotenv,
        "scie-pex-entrypoint-env-passthrough": o.scie_pex_entrypoint_env_passthrough,
        "scie-pbs-free-threaded": o.scie_pbs_free_threaded,
        "scie-pbs-debug": o.scie_pbs_debug,
        "scie-pbs-stripped": o.scie_pbs_stripped,
    }
    args += [f"--{'' if on else 'no-'}{name}" for name, on in switches.items() if on is not None]
    return args


def lock_args(table: TableOptions, group: ResolveGroup, project_root: Path) -> List[str]:
    """Resolve from the group's lockfile: a PEP 751 `pylock*.toml`, or else a pex lock."""
    if group.resolve is None:
        return []
    path = lockfile(table, group.resolve, project_root)
    return ["--pylock" if path.suffix == ".toml" else "--lock", str(path)]


def base_requirements(wheel: WheelContents) -> List[str]:
    """The wheel's requirements that a plain install of it takes (not those of its extras)."""
    kept = []
    for text in wheel.requires_dist:
        marker = Requirement(text).marker
        if marker is None or "extra" not in str(marker):
            kept.append(text)
    return kept


def copyable(binary: BinarySpec) -> bool:
    """Whether `binary` is one zipapp file whose entry point is a module or console script: what a sibling can be
    written from, or stand for, by copy (a scie, an `executable` and an entry point pex is to import are left to
    pex)."""
    o = binary.options
    return o.layout == "zipapp" and not (o.scie or o.validate_entry_point or binary.entry_point.executable)


def sibling_shape(binary: BinarySpec) -> Tuple[str, ...]:
    """What a PEX's build is apart from its entry point: siblings of one shape differ in their entry point alone."""
    kind = "console-script" if binary.entry_point.script else "entry-point"
    return (kind, *binary_args(binary)[len(binary.entry_point.pex_args) :])
