"""The project as the commands see it: its table, its wheel (built by setuptools, or the delegate backend, as a
build would) and its plan."""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable, Iterator, List, Tuple

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from pex_backend.backend.config.load import did_you_mean
from pex_backend.backend.config.project import load_config, read_pyproject
from pex_backend.backend.config.settings import BuildSettings
from pex_backend.backend.config.table import TABLE, PexbinConfig
from pex_backend.backend.delegate import backend_name, load_backend, requires
from pex_backend.backend.inputs import check_inputs
from pex_backend.backend.plan import BinarySpec, plan
from pex_backend.backend.wheel import WheelContents, read_wheel, reproducible_copy
from pex_backend.errors import BuildError, ConfigError

# In a process of its own: setuptools keeps state between builds in one process, and prints to stdout.
BUILD_WHEEL = (
    "import sys; sys.path.insert(0, sys.argv.pop()); from pex_backend.commands.workspace import wheel_here; "
    "wheel_here(*sys.argv[1:])"
)
MISSING = 3
MISTAKE = 4


@dataclass(frozen=True)
class Workspace:
    """Every PEX the project declares (before tag selection), and what they are built from."""

    root: Path
    config: PexbinConfig
    wheel: WheelContents
    binaries: Tuple[BinarySpec, ...]

    def binary(self, name: str) -> BinarySpec:
        """The binary whose PEX is `NAME.pex`; a ConfigError naming the argument when there is none."""
        names = [binary.name for binary in self.binaries]
        if name.endswith(".pex") and name not in names:
            name = name[: -len(".pex")]
        for binary in self.binaries:
            if binary.name == name:
                return binary
        raise ConfigError(
            "NAME", f"no PEX named {name!r} in this project{did_you_mean(name, names)} (it has: {', '.join(names)})"
        )


def project_root(path: Path) -> Path:
    root = path.resolve()
    if not (root / "pyproject.toml").is_file():
        raise ConfigError("--project", f"{path}: no pyproject.toml there")
    return root


def missing(requirements: Iterable[str]) -> List[str]:
    """The requirements this environment does not satisfy."""
    absent = []
    for text in requirements:
        requirement = Requirement(text)
        if canonicalize_name(requirement.name) == "pex-backend" or (
            requirement.marker and not requirement.marker.evaluate()
        ):
            continue  # not for this interpreter, or this very code
        try:
            installed = version(requirement.name)
        except PackageNotFoundError:
            absent.append(text)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            absent.append(f"{text} (installed: {installed})")
    return absent


def wheel_here(directory: str, answer: str) -> None:
    """In the project root: check its build requirements are installed, then build its wheel with its backend."""
    root = Path.cwd()
    declared = read_pyproject(root).get("build-system", {}).get("requires", [])
    absent = missing(declared)
    if not absent:
        try:
            backend = load_backend(root, load_config(root))
        except ConfigError as exc:
            Path(answer).write_text(f"{exc.key}\n{exc.message}")
            raise SystemExit(MISTAKE) from None
        absent = missing(requires(backend, "get_requires_for_build_wheel", None))
    if absent:
        Path(answer).write_text(", ".join(absent))
        raise SystemExit(MISSING)
    Path(answer).write_text(backend.build_wheel(directory))


def build_wheel(root: Path, directory: Path) -> Path:
    """The project's wheel, built by its backend in the project root (with the backend installed here)."""
    answer = directory / "wheel-name"
    command = [sys.executable, "-c", BUILD_WHEEL, str(directory), str(answer), str(Path(__file__).parents[2])]
    leftover = root / "build"
    ours = not leftover.exists()  # setuptools' build directory, removed again unless the user had one
    try:
        result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    finally:
        if ours:
            shutil.rmtree(leftover, ignore_errors=True)
    if result.returncode == MISSING:
        raise ConfigError(
            "build-system.requires",
            f"the commands build the project's wheel in this environment, which lacks {answer.read_text()}; "
            "install them here",
        )
    if result.returncode == MISTAKE:
        raise ConfigError(*answer.read_text().split("\n", 1))
    if result.returncode != 0:
        output = "\n".join((result.stdout + result.stderr).strip().splitlines()[-30:])
        backend = backend_name(load_config(root)) or "setuptools"
        raise BuildError(f"{backend} failed to build the wheel of {root}:\n{output}")
    return directory / answer.read_text().strip()


@contextlib.contextmanager
def open_workspace(path: Path, lockfiles: bool = True) -> Iterator[Workspace]:
    """The project at `path` with its wheel built; the wheel lasts as long as the context. Without `lockfiles`
    (for what only reads the table), a declared lockfile need not exist yet."""
    root = project_root(path)
    config = load_config(root)
    if config is None:
        raise ConfigError(TABLE, f"{root / 'pyproject.toml'} has no [tool.pexbin] table, so it declares no PEX")
    check_inputs(config, root, lockfiles)
    with tempfile.TemporaryDirectory(prefix="pexbin-workspace-") as directory:
        built = build_wheel(root, Path(directory))
        wheel = read_wheel(reproducible_copy(built, Path(directory) / "for-pex"))
        binaries = plan(config, wheel, root, BuildSettings(cache_dir=None))
        yield Workspace(root, config, wheel, tuple(binaries))
