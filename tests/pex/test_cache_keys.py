"""Each input the README lists as part of a build cache key: changing it resolves (or builds) again, changing
nothing reuses everything. One warm build of `sample_projects/hello`; each case builds a copy with one change."""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Dict, List

import pytest
from conftest import SAMPLES, Project, run

HELLO = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
WHAT = "hello==1.0's requirements"


@dataclass
class Case:
    """A copy of the warm project, with its own find-links directory (the same listing as the warm one's)."""

    project: Project
    links: Path

    @property
    def pyproject(self) -> Path:
        return self.project.path / "pyproject.toml"

    def table(self, lines: str) -> None:
        """Add `lines` at the top of `[tool.pexbin]`."""
        self.pyproject.write_text(self.pyproject.read_text().replace("[tool.pexbin]\n", f"[tool.pexbin]\n{lines}\n"))

    def build(self) -> str:
        result = self.project.build("uv", self.project.path.parent / "dist", "--wheel")
        return result.stdout + result.stderr


def outcome(said: str) -> str:
    """What a build did, in the words of the cases below."""
    resolved = f"pex-backend: resolved {WHAT}" in said
    reused_resolve = f"pex-backend: reused the resolve of {WHAT} from the build cache" in said
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


@pytest.fixture(scope="module")
def warm(tmp_path_factory, offline_env, wheelhouse) -> Dict:
    """hello, with a find-links directory in its table, built once into a build cache the cases share."""
    where = tmp_path_factory.mktemp("warm")
    links = where / "links"
    links.mkdir()
    shutil.copy2(wheelhouse / "cowsay-6.1-py3-none-any.whl", links)
    project = Project(where / "hello", {**offline_env, "PEXBIN_CACHE_DIR": str(where / "cache")})
    shutil.copytree(SAMPLES / "hello", project.path)
    case = Case(project, links)
    case.table(f'find-links = ["{links.as_posix()}"]')
    assert outcome(case.build()) == "resolved again"
    platform = where / "here.json"
    run([sys.executable, "-m", "pex_backend", "inspect-platform", "-o", platform], env=project.env)
    return {"project": project, "links": links, "platform": platform, "wheelhouse": wheelhouse}


def unchanged(case: Case, warm: Dict) -> List[str]:
    # In another directory, with a comment in the table and a variable that is not pip's: nothing that counts.
    case.table("# a comment")
    case.project.env = {**case.project.env, "NOT_PIPS": "1"}
    return [case.build()]


def project_requirement(case: Case, warm: Dict) -> List[str]:
    case.pyproject.write_text(case.pyproject.read_text().replace('["cowsay>=6"]', '["cowsay>=6", "packaging>=20"]'))
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


def binary_field(case: Case, warm: Dict) -> List[str]:
    case.pyproject.write_text(case.pyproject.read_text() + '[tool.pexbin.overrides]\n"hello" = { shebang = "/x" }\n')
    return [case.build()]


def source_edit(case: Case, warm: Dict) -> List[str]:
    cli = case.project.path / "src" / "hello" / "cli.py"
    cli.write_text(cli.read_text().replace('f"hello, {name}"', 'f"hello again, {name}"'))
    return [case.build()]


CASES: Dict[Callable[[Case, Dict], List[str]], List[str]] = {
    unchanged: ["everything reused"],
    project_requirement: ["resolved again"],
    table_dependencies: ["resolved again"],
    interpreter_constraints: ["resolved again"],
    platforms: ["resolved again"],
    complete_platform_contents: ["resolved again", "resolved again"],
    table_index_urls: ["resolved again"],
    find_links_listing: ["resolved again"],
    pip_variable: ["resolved again"],
    pip_configuration_file: ["resolved again", "resolved again"],
    lockfile_contents: ["resolved again", "resolved again"],
    binary_field: ["hello.pex alone built again"],
    source_edit: ["every PEX built again from the cached resolve"],
}


@pytest.mark.parametrize("change", CASES, ids=[change.__name__ for change in CASES])
def test_a_change_to_one_input_resolves_or_builds_again(warm, tmp_path, change):
    project = Project(tmp_path / "hello", dict(warm["project"].env))
    shutil.copytree(warm["project"].path, project.path)
    links = tmp_path / "links"
    shutil.copytree(warm["links"], links)  # copy2 keeps names, sizes and times: the same listing
    case = Case(project, links)
    case.pyproject.write_text(case.pyproject.read_text().replace(warm["links"].as_posix(), links.as_posix()))
    assert [outcome(said) for said in change(case, warm)] == CASES[change]
    pex = tmp_path / "dist" / "hello.pex"
    expected = "hello again, Kim" if change is source_edit else "hello, Kim"
    assert expected in run([sys.executable, pex, "Kim"]).stdout
