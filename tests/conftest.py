"""Fixtures: a local wheelhouse holding this backend's own wheel, and real frontends that build from it."""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import sysconfig
import tempfile
import venv
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Sequence

import pytest

# Before pex: the backend's code imports pex in this process, and pex puts its vendored (older) attrs first on
# sys.path, which the JSON-schema stack of the SBOM tests' validator cannot import. Imported first, it has its own.
import cyclonedx.validation.json  # noqa: F401, E402  isort: skip

from pex_backend.bytecode import KIND as BYTECODE
from pex_backend.bytecode import BytecodeStore
from pex_backend.pex.pexinfo import pex_info  # noqa: F401 (the tests read PEX-INFO through it)

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_projects"
PINS = Path(__file__).with_name("pins.txt")
KEPT_WHEELHOUSES = ROOT / ".wheelhouse"
# The platforms of the `foreign:` lines of pins.txt: those sample_projects/multi targets.
FOREIGN_TARGETS = [
    ("manylinux2014_x86_64", "3.11", "cp311"),
    ("manylinux2014_x86_64", "3.12", "cp312"),
    ("macosx_11_0_arm64", "3.12", "cp312"),
]
TIMEOUT = 600
"""Seconds any command a test runs may take: a hung build fails its test instead of hanging the run."""


def run(
    command: Sequence[object],
    *,
    cwd: Path | None = None,
    env: Dict[str, str] | None = None,
    check: bool = True,
    timeout: float = TIMEOUT,
):
    try:
        result = subprocess.run(
            [str(c) for c in command], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"{command} did not finish in {timeout} s:\n{exc.stdout}\n{exc.stderr}") from None
    if check and result.returncode != 0:
        raise AssertionError(f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


# What the tests' copy of this checkout leaves out: what .gitignore ignores, and git's own directory.
IGNORED = shutil.ignore_patterns(
    ".git", ".venv", ".tox", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache", "*.pex"
)


@pytest.fixture(scope="session", autouse=True)
def own_caches(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every cache pip, uv, pex and pex-backend use, for this session alone: the tests neither read what an
    earlier run (or the user) left in `~/.cache`, nor leave anything there. Subprocesses inherit them."""
    root = tmp_path_factory.mktemp("caches")
    own = {
        "XDG_CACHE_HOME": root / "xdg",
        "PIP_CACHE_DIR": root / "pip",
        "UV_CACHE_DIR": root / "uv",
        "PEX_ROOT": root / "pex",
        "PEXBIN_CACHE_DIR": root / "pex-backend",
    }
    saved = {name: os.environ.get(name) for name in own}
    os.environ.update({name: str(path) for name, path in own.items()})
    yield root
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def signals_kept() -> Iterator[None]:
    """What a test's in-process code does to this worker's SIGINT and SIGTERM handlers is undone after it."""
    saved = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in saved.items():
        if signal.getsignal(signum) is not handler and handler is not None:
            signal.signal(signum, handler)


@pytest.fixture(scope="session")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    house = tmp_path_factory.mktemp("wheelhouse")
    source = tmp_path_factory.mktemp("backend-source") / "pex-backend"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    # Without build isolation (setuptools is installed here), so that no index is needed once the pins are kept.
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", house, source])
    for wheel in pinned_wheels().iterdir():
        shutil.copy2(wheel, house)
    return house


def pinned_wheels() -> Path:
    """The wheels `pins.txt` names, downloaded once per version of the file (and interpreter) into .wheelhouse/."""
    text = PINS.read_text()
    key = hashlib.sha256(f"{text}{sys.implementation.cache_tag}".encode()).hexdigest()[:16]
    kept = KEPT_WHEELHOUSES / key
    if kept.is_dir():
        return kept
    KEPT_WHEELHOUSES.mkdir(exist_ok=True)
    partial = Path(tempfile.mkdtemp(dir=KEPT_WHEELHOUSES, prefix=".partial-"))
    pins = [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]
    foreign = [pin[len("foreign:") :].strip() for pin in pins if pin.startswith("foreign:")]
    pins = [pin for pin in pins if not pin.startswith("foreign:")]
    for target_platform, version, abi in FOREIGN_TARGETS:
        target = ["--platform", target_platform, "--python-version", version, "--implementation", "cp", "--abi", abi]
        run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--no-deps", "-d", partial]
            + target + foreign)  # fmt: skip
    while pins:  # pip takes one version of a project per call
        batch = list({pin.split("==")[0]: pin for pin in reversed(pins)}.values())
        run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", partial, *batch])
        pins = [pin for pin in pins if pin not in batch]
    try:
        os.rename(partial, kept)  # a session running at the same time may have kept its own first
    except OSError:
        shutil.rmtree(partial, ignore_errors=True)
    return kept


@pytest.fixture(scope="session")
def offline_env(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Dict[str, str]:
    """An environment in which pip, uv and pex see the wheelhouse and no index at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "UV_", "PEX", "PYTHONPATH"))}
    env.update(
        PIP_CACHE_DIR=os.environ["PIP_CACHE_DIR"],
        PEX_ROOT=os.environ["PEX_ROOT"],
        PIP_CONFIG_FILE=os.devnull,
        PIP_FIND_LINKS=str(wheelhouse),
        PIP_NO_INDEX="1",
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        UV_FIND_LINKS=str(wheelhouse),
        UV_NO_INDEX="1",
        # `uv lock` takes no `UV_NO_INDEX` (uv 0.13): offline, it finds PyPI unreachable and resolves from the
        # wheelhouse alone, as every other uv command here does.
        UV_OFFLINE="1",
        UV_CACHE_DIR=os.environ["UV_CACHE_DIR"],
        UV_NO_CONFIG="1",
        # uv builds with the interpreter running the tests (each tox environment's own), named, not searched for
        # on PATH (where pyenv's shims run a dozen shell scripts to find one).
        UV_PYTHON=sys.executable,
        PEXBIN_CACHE_DIR=str(tmp_path_factory.mktemp("pexbin-cache")),
    )
    return env


@dataclass
class Project:
    """A copy of a sample project, and what its builds wrote."""

    path: Path
    env: Dict[str, str]

    def pyproject(self, text: str) -> None:
        (self.path / "pyproject.toml").write_text(text)

    def build(self, frontend: str, out: Path, *args: str, check: bool = True):
        commands = {
            # build's isolated environments filled by uv (the hooks are called as with pip, only faster);
            # "build-pip" is build's default installer, pip.
            "build": [sys.executable, "-m", "build", "--installer=uv", "-o", out, *args, self.path],
            "build-pip": [sys.executable, "-m", "build", "-o", out, *args, self.path],
            "uv": [sys.executable, "-m", "uv", "build", "-o", out, *args, self.path],
            "pip-wheel": [sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", out, *args, self.path],
        }
        return run(commands[frontend], cwd=self.path, env=self.env, check=check)


def with_setuptools_backend(project: Path) -> None:
    """Point a sample project's build-system at setuptools' own backend, nothing else changed: then it builds what
    setuptools alone builds of it."""
    pyproject = project / "pyproject.toml"
    ours = 'requires = ["pex-backend"]\nbuild-backend = "pex_backend"'
    assert ours in pyproject.read_text()
    theirs = 'requires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"'
    pyproject.write_text(pyproject.read_text().replace(ours, theirs))


@pytest.fixture(scope="session")
def pex_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build cache entry every build cache holds after its first build: pex's compiled copy, made once by the
    backend's own code from the pex these tests install (pins.txt's, the version builds install)."""
    import pex

    from pex_backend.pex.cache import FORMAT, open_cache
    from pex_backend.pex.workers import copy_pex

    root = tmp_path_factory.mktemp("pex-copy")
    cache = open_cache(root)
    assert cache is not None
    copy_pex(cache, Path(pex.__file__).parent)
    cache.close()
    # And the backend's bytecode, as the hooks' finder compiles it (the wheelhouse's backend is these sources).
    store = BytecodeStore(root / f"v{FORMAT}" / BYTECODE)
    for module in sorted((ROOT / "pex_backend").rglob("*.py")):
        source = module.read_bytes()
        store.write(store.key(source), compile(source, str(module), "exec", dont_inherit=True))
    return root / f"v{FORMAT}" / "pex-copies"


def with_pex_copy(cache_dir: Path, pex_copy: Path) -> None:
    """Give a new build cache pex's compiled copy, as a build that made it leaves it: its files linked (entries are
    never written in place; a test that damages one asks for a `cold` cache), its manifest a file of its own, so
    that each cache's locks are its own; and the backend's bytecode (linked too: a file of it is replaced, never
    written)."""
    from pex_backend.pex.cache import FORMAT, INPUTS, MANIFEST

    for entry in pex_copy.iterdir():
        destination = cache_dir / f"v{FORMAT}" / "pex-copies" / entry.name
        shutil.copytree(entry, destination, copy_function=os.link, ignore=shutil.ignore_patterns(MANIFEST, INPUTS))
        for name in (MANIFEST, INPUTS):
            shutil.copyfile(entry / name, destination / name)
    shutil.copytree(pex_copy.parent / BYTECODE, cache_dir / f"v{FORMAT}" / BYTECODE, copy_function=os.link)


@pytest.fixture
def sample(offline_env: Dict[str, str], tmp_path: Path, pex_copy: Path):
    def copy(name: str, cold: bool = False) -> Project:
        """A copy of `sample_projects/NAME` with a build cache of the test's own, so that each test sees its builds
        happen; the cache holds pex's compiled copy unless `cold` (a test of the first build, or of that entry)."""
        destination = tmp_path / "projects" / name
        shutil.copytree(SAMPLES / name, destination)
        cache_dir = tmp_path / "pexbin-cache"
        if not cold and not cache_dir.exists():
            with_pex_copy(cache_dir, pex_copy)
        return Project(destination, {**offline_env, "PEXBIN_CACHE_DIR": str(cache_dir)})

    return copy


def default_signals() -> None:
    """For a `preexec_fn`: SIGINT and SIGTERM as a shell starts a command, whatever this worker inherited (a
    process started with SIGINT ignored keeps ignoring it, and Python then raises no KeyboardInterrupt)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def run_pex(pex: Path, *args: str, env: Dict[str, str] | None = None, check: bool = True):
    command = [sys.executable, pex] if pex.is_dir() else [pex]
    return run([*command, *args], env=env, check=check)


def listing(directory: Path) -> List[str]:
    """What a build left in `directory`, less the `.gitignore` that `uv build` writes into its output directory."""
    return sorted(p.name for p in directory.iterdir() if p.name != ".gitignore")


@pytest.fixture(scope="session")
def new_venv(tmp_path_factory: pytest.TempPathFactory):
    """Make a virtual environment with pip at a path: a copy of one made once per session by `venv` (ensurepip
    installs and byte-compiles pip, about 3 s of CPU each time). Its bin directory is returned. pip is run as
    `bin/python -m pip`: the copied `bin/pip` scripts name the first environment's python."""
    template = tmp_path_factory.mktemp("venv-with-pip") / "venv"
    venv.create(template, with_pip=True, symlinks=os.name != "nt")

    def make(target: Path) -> Path:
        shutil.copytree(template, target, symlinks=True)
        return target / ("Scripts" if os.name == "nt" else "bin")

    return make


@pytest.fixture(scope="session")
def installer(wheelhouse: Path, offline_env: Dict[str, str], tmp_path_factory: pytest.TempPathFactory, new_venv):
    """Install a wheel (and requirements) into a fresh virtual environment and return its bin directory."""

    def install(wheel: Path | str, *requirements: str) -> Path:
        bin_dir = new_venv(tmp_path_factory.mktemp("venv") / "venv")
        run([bin_dir / "python", "-m", "pip", "install", "-q", wheel, *requirements], env=offline_env)
        return bin_dir

    return install


@pytest.fixture(scope="session")
def foreign_wheels(wheelhouse: Path) -> Path:
    """The wheelhouse, which holds charset-normalizer (a compiled requirement) for every platform that
    `sample_projects/multi` targets (the `foreign:` lines of pins.txt)."""
    return wheelhouse


def needs(pythons: Dict[str, Path], *versions: str) -> None:
    """Skip unless local CPythons of these versions are there to run a PEX under."""
    missing = [v for v in versions if v not in pythons]
    if missing:
        pytest.skip(f"no local CPython {', '.join(missing)} (pyenv or PATH) to run the PEX under")


def needs_linux_x86_64() -> None:
    """The sample projects' foreign platforms include linux x86_64 CPython: their PEX files run only there."""
    if not (sys.platform == "linux" and platform.machine() == "x86_64"):
        pytest.skip(f"needs linux x86_64 to run a PEX built for it (this is {sys.platform} {platform.machine()})")


def needs_compiler() -> None:
    """sample_projects/compiled has a C extension."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if not shutil.which(compiler):
        pytest.skip(f"needs a C compiler ({compiler}) to build sample_projects/compiled")


def needs_vendored_pip() -> None:
    if sys.version_info >= (3, 12):
        pytest.skip("pex's vendored pip (20.3.4) runs only under Python < 3.12, and the build interpreter is newer")


def find_python(version: str) -> Path | None:
    """A local CPython of that version: pyenv's, or one on PATH."""
    candidates = []
    if shutil.which("pyenv"):
        root = run(["pyenv", "root"], check=False).stdout.strip()
        candidates += sorted(Path(root).glob(f"versions/{version}.*/bin/python{version}"), reverse=True)
    if shutil.which(f"python{version}"):
        candidates.append(Path(shutil.which(f"python{version}")))
    for candidate in candidates:
        if run([candidate, "-c", "import sys"], check=False).returncode == 0:
            return candidate
    return None


@pytest.fixture(scope="session")
def pythons() -> Dict[str, Path]:
    """The local interpreters the platform tests run PEX files under; a test needing one skips without it."""
    return {version: path for version in ("3.11", "3.12") if (path := find_python(version))}
