"""Every input a user can change between two builds: changed after warm builds (whose shortcuts, sibling derivation
and splicing, are proven and in use), the build resolves or builds again exactly as the keys say, and every PEX
it writes is byte for byte what a build with the cache off writes from the same sources.

One warm `sample_projects/hello` (four builds, so that splicing, and then the project's part written without a pex
run, are proven and in use); each case builds a copy with one change, into a copy of the warm build cache, then the
same sources with `PEXBIN_NO_CACHE=1`.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Optional

import pytest
from conftest import IGNORED, ROOT, SAMPLES, Project, find_python, run

from pex_backend.pex.cache import FORMAT

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]


@dataclass
class Case:
    """A copy of the warm project, with its own find-links directory (the same listing as the warm one's)."""

    project: Project
    links: Path
    frontend: str = "uv"
    args: List[str] = field(default_factory=lambda: ["--wheel"])
    names: List[str] = field(default_factory=lambda: list(HELLO))

    @property
    def pyproject(self) -> Path:
        return self.project.path / "pyproject.toml"

    @property
    def out(self) -> Path:
        return self.project.path.parent / "dist"

    def table(self, lines: str) -> None:
        """Add `lines` at the top of `[tool.pexbin]`."""
        self.pyproject.write_text(self.pyproject.read_text().replace("[tool.pexbin]\n", f"[tool.pexbin]\n{lines}\n"))

    def replace(self, path: str, old: str, new: str) -> None:
        file = self.project.path / path
        assert old in file.read_text(), (path, old)
        file.write_text(file.read_text().replace(old, new))

    def build(self, project: Optional[Project] = None, out: Optional[Path] = None) -> str:
        out = out or self.out
        result = (project or self.project).build(self.frontend, out, *(arg.format(out=out) for arg in self.args))
        return result.stdout + result.stderr

    def without_cache(self, where: Path) -> Dict[str, str]:
        """The sha256 of each PEX the same sources give with the cache off (pex builds every one)."""
        said = self.build(Project(self.project.path, {**self.project.env, "PEXBIN_NO_CACHE": "1"}), where)
        assert "derived from" not in said and "the project's part" not in said and "reused" not in said
        return digests(where, self.names)


def digests(out: Path, names: List[str]) -> Dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in names}


def outcome(said: str) -> str:
    """What a build did, in the words of the cases below."""
    resolved = re.search(r"pex-backend: resolved hello==\S+'s requirements", said) is not None
    reused_resolve = re.search(r"pex-backend: reused the resolve of hello==\S+'s requirements", said) is not None
    written = [name for name in HELLO if f"pex-backend: wrote {name} (" in said]
    reused = [name for name in HELLO if f"pex-backend: reused {name} from the build cache" in said]
    if resolved and not reused_resolve and written == HELLO:
        return "resolved again"
    if reused_resolve and not resolved and written == HELLO:
        return "every PEX built again from the cached resolve"
    if reused_resolve and not resolved and written == ["hello.pex"] and reused == HELLO[1:]:
        return "hello.pex alone built again"
    if not resolved and not reused_resolve and reused == HELLO:
        return "everything reused"
    return f"resolved={resolved} reused_resolve={reused_resolve} written={written} reused={reused}"


def edit(project: Project, text: str) -> None:
    cli = project.path / "src" / "hello" / "cli.py"
    cli.write_text(cli.read_text() + f"# {text}\n")


@pytest.fixture(scope="module")
def warm(tmp_path_factory, offline_env, wheelhouse) -> Dict:
    """hello, with a find-links directory in its table, built four times (with an edit before each but the first)
    into a build cache the cases share: derivation, splicing and the project's part written by pex's code are then
    proven and used."""
    where = tmp_path_factory.mktemp("warm")
    links = where / "links"
    links.mkdir()
    shutil.copy2(wheelhouse / "cowsay-6.1-py3-none-any.whl", links)
    project = Project(where / "hello", {**offline_env, "PEXBIN_CACHE_DIR": str(where / "cache")})
    shutil.copytree(SAMPLES / "hello", project.path)
    case = Case(project, links)
    case.table(f'find-links = ["{links.as_posix()}"]')
    assert outcome(case.build()) == "resolved again"
    edit(project, "first edit")
    case.build()
    edit(project, "second edit")
    third = case.build()
    assert "pex built the project's part" in third and "derived from" in third, third
    edit(project, "third edit")
    project.env = {**project.env, "PYTHONPROFILEIMPORTTIME": "1"}  # the backend's imports (not its workers')
    fourth = case.build()
    del project.env["PYTHONPROFILEIMPORTTIME"]
    assert fourth.count("the project's part written by pex's code") == 2 and "derived from" in fourth, fourth
    # pex's code that splicing and derivation run (PEX-INFO, entry_points.txt) ran in a worker, which has it
    # imported: the backend imported neither module for it.
    imported = set(re.findall(r"\| +(pex(?:\.[\w.]+)?)$", fourth, re.MULTILINE))
    assert not imported & {"pex.pex_info", "pex.dist_metadata"}, sorted(imported)
    platform = where / "here.json"
    run([sys.executable, "-m", "pex_backend", "inspect-platform", "-o", platform], env=project.env)
    return {"project": project, "links": links, "platform": platform, "wheelhouse": wheelhouse}


def unchanged(case: Case, warm: Dict) -> List[str]:
    # In another directory, with a comment in the table and a variable that is not pip's: nothing that counts.
    case.table("# a comment")
    case.project.env = {**case.project.env, "NOT_PIPS": "1"}
    return [case.build()]


def frontend_python_m_build(case: Case, warm: Dict) -> List[str]:
    case.frontend = "build"
    return [case.build()]


def frontend_pip_wheel(case: Case, warm: Dict) -> List[str]:
    # pip names a new build tracker in every build's environment (PIP_BUILD_TRACKER): bookkeeping, not a setting.
    case.frontend, case.args = "pip-wheel", ["-v", "-Cpexbin.output-dir={out}"]  # -v: the backend's lines
    return [case.build(), case.build()]


def project_requirement(case: Case, warm: Dict) -> List[str]:
    case.replace("pyproject.toml", '["cowsay>=6"]', '["cowsay>=6", "packaging>=20"]')
    return [case.build()]


def project_version(case: Case, warm: Dict) -> List[str]:
    case.replace("pyproject.toml", 'version = "1.0"', 'version = "1.0.post1"')
    return [case.build()]


def project_description(case: Case, warm: Dict) -> List[str]:
    case.replace("pyproject.toml", 'version = "1.0"\n', 'version = "1.0"\ndescription = "Says hello."\n')
    return [case.build()]


def console_script_retargeted(case: Case, warm: Dict) -> List[str]:
    # The same wheel name, the same resolve and options: only what `hello` points to changed.
    other = 'def other() -> int:\n    print("B")\n    return 0\n\n\ndef main() -> int:'
    case.replace("src/hello/cli.py", "def main() -> int:", other)
    first = case.build()
    case.replace("pyproject.toml", 'hello = "hello.cli:main"', 'hello = "hello.cli:other"')
    return [first, case.build()]


def source_edit(case: Case, warm: Dict) -> List[str]:
    case.replace("src/hello/cli.py", 'f"hello, {name}"', 'f"hello again, {name}"')
    return [case.build()]


def table_dependencies(case: Case, warm: Dict) -> List[str]:
    case.table('dependencies = ["packaging"]')
    return [case.build()]


def interpreter_constraints(case: Case, warm: Dict) -> List[str]:
    case.table('interpreter-constraints = ["CPython>=3.9"]')
    return [case.build()]


def platforms(case: Case, warm: Dict) -> List[str]:
    case.table('platforms = ["linux_x86_64-cp-3.11.7-cp311"]')
    return [case.build()]


def complete_platform_contents(case: Case, warm: Dict) -> List[str]:
    platform = case.project.path / "platforms" / "here.json"
    platform.parent.mkdir()
    shutil.copy2(warm["platform"], platform)
    case.table('complete-platforms = ["platforms/here.json"]')
    first = case.build()
    described = json.loads(platform.read_text())
    described["compatible_tags"] = described["compatible_tags"][:-1]  # the oldest tag, which no wheel here needs
    platform.write_text(json.dumps(described))
    return [first, case.build()]


def table_index_urls(case: Case, warm: Dict) -> List[str]:
    case.table("index-urls = []")
    return [case.build()]


def find_links_listing(case: Case, warm: Dict) -> List[str]:
    shutil.copy2(warm["wheelhouse"] / "cowsay-6.0-py3-none-any.whl", case.links)
    return [case.build()]


def pip_variable(case: Case, warm: Dict) -> List[str]:
    case.project.env = {**case.project.env, "PIP_PREFER_BINARY": "1"}
    return [case.build()]


def uv_variable(case: Case, warm: Dict) -> List[str]:
    case.project.env = {**case.project.env, "UV_PRERELEASE": "allow"}  # uv resolves (the default resolver)
    return [case.build()]


def pip_configuration_file(case: Case, warm: Dict) -> List[str]:
    config = case.project.path.parent / "pip.conf"
    config.write_text("[global]\ntimeout = 60\n")
    case.project.env = {**case.project.env, "PIP_CONFIG_FILE": str(config)}
    first = case.build()
    config.write_text("[global]\ntimeout = 61\n")  # the same file, other contents
    return [first, case.build()]


def lockfile_contents(case: Case, warm: Dict) -> List[str]:
    case.table('default-resolve = "default"\nresolves = { default = "pex.lock" }')
    lock = [sys.executable, "-m", "pex_backend", "lock", "--project", case.project.path]
    run(lock, env=case.project.env)
    first = case.build()
    lockfile = case.project.path / "pex.lock"
    lockfile.write_text(json.dumps(json.loads(lockfile.read_text()), indent=4))  # the same lock, other contents
    return [first, case.build()]


def pex_version(case: Case, warm: Dict) -> List[str]:
    case.table('pex-version = "2.105.1"')  # the older pex of pins.txt
    return [case.build()]


def backend_version(case: Case, warm: Dict) -> List[str]:
    # A later pex-backend (its code and version changed), found through uv's command line alone: no variable and
    # no configuration file of pip's or uv's changes.
    source = case.project.path.parent / "backend" / "pex-backend"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    version = source / "pex_backend" / "version.py"
    version.write_text(re.sub(r'__version__ = "([^"]+)"', r'__version__ = "\1.post1"', version.read_text()))
    house = case.project.path.parent / "wheelhouse"
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", house, source])
    # The wheelhouse too: find-links on the command line take the place of UV_FIND_LINKS.
    case.args = ["--wheel", f"--find-links={house}", f"--find-links={case.project.env['UV_FIND_LINKS']}"]
    return [case.build()]


def build_interpreter(case: Case, warm: Dict) -> List[str]:
    other = find_python("3.12" if sys.version_info[:2] != (3, 12) else "3.11")
    if other is None:
        pytest.skip("no second local CPython (3.12, or 3.11 under 3.12) to build with")
    case.args = ["--wheel", f"--python={other}"]
    return [case.build()]


def binary_field(case: Case, warm: Dict) -> List[str]:
    case.pyproject.write_text(case.pyproject.read_text() + '[tool.pexbin.overrides]\n"hello" = { shebang = "/x" }\n')
    return [case.build()]


def binary_fields_at_the_top(case: Case, warm: Dict) -> List[str]:
    case.table('inherit-path = "fallback"\nstrip-pex-env = false\nenv = { GREETING = "hi" }\nargs = ["Kim"]')
    return [case.build()]


def layout_and_compression(case: Case, warm: Dict) -> List[str]:
    case.table("compress = false\nsh-boot = true")
    return [case.build()]


REUSED, RESOLVED, REBUILT = "everything reused", "resolved again", "every PEX built again from the cached resolve"
CASES: Dict[Callable[[Case, Dict], List[str]], List[str]] = {
    unchanged: [REUSED],
    frontend_python_m_build: [REUSED],
    frontend_pip_wheel: [REUSED, REUSED],
    project_requirement: [RESOLVED],
    project_version: [REBUILT],
    project_description: [REBUILT],
    console_script_retargeted: [REBUILT, REBUILT],
    source_edit: [REBUILT],
    table_dependencies: [RESOLVED],
    interpreter_constraints: [RESOLVED],
    platforms: [RESOLVED],
    complete_platform_contents: [RESOLVED, RESOLVED],
    table_index_urls: [RESOLVED],
    find_links_listing: [RESOLVED],
    pip_variable: [RESOLVED],
    pip_configuration_file: [RESOLVED, RESOLVED],
    uv_variable: [RESOLVED],
    lockfile_contents: [RESOLVED, RESOLVED],
    pex_version: [RESOLVED],
    backend_version: [RESOLVED],
    build_interpreter: [RESOLVED],
    binary_field: ["hello.pex alone built again"],
    binary_fields_at_the_top: [REBUILT],
    layout_and_compression: [REBUILT],
}
PRINTS: Dict[Callable, Optional[str]] = {source_edit: "hello again, Kim", console_script_retargeted: "B"}


def copied(warm: Dict, tmp_path: Path) -> Case:
    """The warm project and its build cache, copied: a build takes away the PEX its own supersedes, so cases
    sharing one cache would see what an earlier case left."""
    cache = tmp_path / "cache"
    shutil.copytree(warm["project"].env["PEXBIN_CACHE_DIR"], cache, symlinks=True)
    project = Project(tmp_path / "hello", {**warm["project"].env, "PEXBIN_CACHE_DIR": str(cache)})
    shutil.copytree(warm["project"].path, project.path)
    links = tmp_path / "links"
    shutil.copytree(warm["links"], links)  # copy2 keeps names, sizes and times: the same listing
    case = Case(project, links)
    case.pyproject.write_text(case.pyproject.read_text().replace(warm["links"].as_posix(), links.as_posix()))
    return case


@pytest.fixture(scope="module")
def unchanged_sources(warm: Dict, tmp_path_factory) -> Dict[str, str]:
    """What the warm project's own sources give with the cache off: the reference of each case that changes
    nothing the PEX files depend on (built once, not once per such case)."""
    where = tmp_path_factory.mktemp("unchanged")
    return copied(warm, where).without_cache(where / "without-cache")


@pytest.mark.parametrize("change", CASES, ids=[change.__name__ for change in CASES])
def test_a_change_to_one_input_builds_what_a_build_without_the_cache_builds(warm, tmp_path, change, request):
    case = copied(warm, tmp_path)
    assert [outcome(said) for said in change(case, warm)] == CASES[change]
    if set(CASES[change]) == {REUSED}:
        reference = request.getfixturevalue("unchanged_sources")
    else:
        reference = case.without_cache(tmp_path / "without-cache")
    assert digests(case.out, case.names) == reference
    pex = case.out / "hello.pex"
    output = run([sys.executable, pex, "Kim"]).stdout if not (case.out / "hello.pex").is_dir() else ""
    assert PRINTS.get(change, "hello, Kim") in output


def test_a_project_part_not_what_pex_writes_is_left_to_pex_run(warm, tmp_path):
    case = copied(warm, tmp_path)
    proofs = Path(case.project.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}" / "part-proofs"
    shutil.rmtree(proofs)  # not proven yet: the next edit writes the part both ways and compares them
    edit(case.project, "an edit")
    spoiled = Project(case.project.path, {**case.project.env, "PEXBIN_TEST_ALTER_PARTS": "1"})
    said = case.build(spoiled)
    assert "differed from the one pex's run of that part gave" in said, said
    assert said.count("pex built the project's part") == 2 and "part written by pex's code)" not in said, said
    assert digests(case.out, case.names) == case.without_cache(tmp_path / "without-cache")

    # Off it stays for this pex version, in this cache: pex's run writes the project's part.
    edit(case.project, "another edit")
    later = case.build()
    assert later.count("pex built the project's part") == 2, later
    assert "part written by pex's code" not in later and "differed" not in later, later
    assert "hello, Kim" in run([sys.executable, case.out / "hello.pex", "Kim"]).stdout
