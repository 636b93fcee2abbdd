"""The fields newer Pants versions have, observed on the PEX files of one build of `sample_projects/newer`."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import sys
import zipfile
from pathlib import Path
from platform import machine
from typing import Dict

import pytest
from conftest import SAMPLES, Project, listing, pex_info, run, run_pex, with_pex_copy

from pex_backend.backend.config.load import load
from pex_backend.errors import ConfigError


def said(result) -> str:
    return result.stdout + result.stderr


def facts(pex: Path, tmp_path: Path, *args: str) -> dict:
    env = {**os.environ, "PEX_ROOT": str(tmp_path / "pex-root")}
    env.pop("PYTHONPATH", None)
    return json.loads(run_pex(pex, *args, env=env).stdout.splitlines()[-1])


def digests(out: Path) -> Dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.glob("*.pex"))}


@pytest.fixture(scope="module")
def built(tmp_path_factory, offline_env, pex_copy):
    """`sample_projects/newer` built once, with a build cache of its own: tests that change the project, its cache
    or what the build wrote work on a copy (`copied`)."""
    where = tmp_path_factory.mktemp("newer")
    shutil.copytree(SAMPLES / "newer", where / "newer")
    with_pex_copy(where / "pexbin-cache", pex_copy)
    project = Project(where / "newer", {**offline_env, "PEXBIN_CACHE_DIR": str(where / "pexbin-cache")})
    out = where / "dist"
    first = said(project.build("uv", out, "--wheel"))
    return project, out, first


def copied(built, where: Path):
    """A copy of the module's build: the project, its build cache and what the build wrote."""
    project, out, output = built
    for directory in (project.path, Path(project.env["PEXBIN_CACHE_DIR"]), out):
        shutil.copytree(directory, where / directory.name, symlinks=True)
    env = {**project.env, "PEXBIN_CACHE_DIR": str(where / "pexbin-cache")}
    return Project(where / project.path.name, env), where / out.name, output


def test_newer_fields_reach_pex_and_the_program(built, tmp_path):
    project, out, output = built
    assert [n for n in listing(out) if n.endswith(".pex")] == [
        "cow.pex",
        "greet.pex",
        "migrate.pex",
        "report.pex",
        "wave.pex",
    ]
    # args and env: frozen in, before the user's arguments; an empty value is a value.
    greet = facts(out / "greet.pex", tmp_path, "mine")
    assert greet["argv"] == ["--from-pex", "two words", "mine"]
    assert (greet["greeting"], greet["empty"]) == ("hello", "")
    info = pex_info(out / "greet.pex")
    assert info["inject_args"] == ["--from-pex", "two words"]
    assert info["inject_env"] == {"NEWER_EMPTY": "", "NEWER_GREETING": "hello"}
    # sh-boot: a /bin/sh script boots it; compress = false: every entry stored.
    assert (out / "greet.pex").read_bytes().startswith(b"#!/bin/sh\n")
    with zipfile.ZipFile(out / "greet.pex") as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    with zipfile.ZipFile(out / "report.pex") as z:
        assert zipfile.ZIP_DEFLATED in {i.compress_type for i in z.infolist()}
    # The override's empty args and env replace the table's; venv options; extra-build-args reach pex.
    report = facts(out / "report.pex", tmp_path, "mine")
    assert report["argv"] == ["mine"] and report["greeting"] is None
    assert report["optimized"] >= 1  # --inject-python-args=-O, from extra-build-args
    info = pex_info(out / "report.pex")
    assert info["venv"] is True and info["venv_hermetic_scripts"] is False
    assert info["venv_site_packages_copies"] is True
    assert info["inject_python_args"] == ["-O"]
    assert not report["cowsay_symlinked"]
    # venv-hermetic-scripts = false: the scripts of the venv pex made of report.pex run without `-I` (or `-sE`).
    (venv_pex,) = [p for p in (tmp_path / "pex-root" / "venvs").rglob("pex") if p.is_file()]
    shebang = venv_pex.read_text().splitlines()[0].split()
    assert shebang[0].startswith("#!") and not {"-I", "-sE"} & set(shebang[1:]), shebang
    # include-sources = false: cowsay's own script, without the project's wheel.
    cow = pex_info(out / "cow.pex")
    assert not any(name.startswith("newer-") for name in cow["distributions"])
    env = {**os.environ, "PEX_ROOT": str(tmp_path / "pex-root")}
    assert "from a frozen argument" in run_pex(out / "cow.pex", env=env).stdout
    # executable: a project file that cannot be imported, run as the program.
    assert facts(out / "migrate.pex", tmp_path, "up") == {"name": "migrate", "argv": ["up"], "greeting": "migrating"}
    assert pex_info(out / "migrate.pex")["entry_point"] == "__pex_executable__"
    # wave is greet's sibling (same args, env, sh-boot, compress): derived once the shape is proven.
    assert facts(out / "wave.pex", tmp_path)["name"] == "wave"


def test_siblings_with_newer_fields_are_what_pex_builds(built, tmp_path):
    project, out, _ = copied(built, tmp_path / "copy")
    source = project.path / "src" / "newer" / "show.py"
    source.write_text(source.read_text().replace('"name": name,', '"name": name, "edited": 1,'))
    again = said(project.build("uv", out, "--wheel"))
    assert re.search(r"wrote wave\.pex \([^)]*derived from greet\.pex\)", again), again
    ours = digests(out)
    reference = tmp_path / "reference"
    env = {**project.env, "PEXBIN_NO_CACHE": "1", "PEX_ROOT": str(tmp_path / "reference-pex-root")}
    type(project)(project.path, env).build("uv", reference, "--wheel")
    assert digests(reference) == ours


@pytest.mark.parametrize(
    "table, message",
    [
        ({"extra-build-args": ["-o", "x.pex"]}, "tool.pexbin.extra-build-args[0]: '-o' is a pex option the backend"),
        ({"extra-build-args": ["--lock=x"]}, "for the resolve"),
        ({"env": {"1BAD": "x"}}, "tool.pexbin.env.1BAD: '1BAD' is not an environment variable name"),
        ({"env": ["A=b"]}, "tool.pexbin.env: expected a table, got an array"),
        ({"args": "serve"}, "tool.pexbin.args: expected an array of strings"),
        ({"check": "loud"}, "tool.pexbin.check: expected one of 'none', 'warn', 'error', got the string 'loud'"),
        ({"compress": "no"}, "tool.pexbin.compress: expected true or false"),
        ({"scie": "fat"}, "tool.pexbin.scie: expected one of 'lazy', 'eager'"),
        ({"scie-platform": ["beos"]}, "tool.pexbin.scie-platform[0]: 'beos' is not one of current"),
        ({"scie_python_version": "three"}, "tool.pexbin.scie_python_version: 'three' is not a Python version"),
        (
            {"binaries": {"m": {"executable": "bin/m", "script": "x"}}},
            "tool.pexbin.binaries.m: expected exactly one of `entry-point`, `script` and `executable` (it sets "
            "`script` and `executable`)",
        ),
    ],
)
def test_newer_field_mistakes_name_the_key(table, message):
    with pytest.raises(ConfigError) as caught:
        load({"tool": {"pexbin": table}})
    assert message in str(caught.value)


def test_peek_shows_the_pex_options_the_newer_fields_become(sample):
    project = sample("newer")

    def pex_args(name: str) -> list:
        peeked = run([sys.executable, "-m", "pex_backend", "peek", name], cwd=project.path, env=project.env)
        return json.loads(peeked.stdout)["pex_args"]

    report = pex_args("report")
    for option in (
        "--check=error",
        "--validate-entry-point",
        "--non-hermetic-venv-scripts",
        "--venv-site-packages-copies",
        "--inject-python-args=-O",
    ):
        assert option in report, report
    greet = pex_args("greet")
    assert "--sh-boot" in greet and "--no-compress" in greet
    assert not [a for a in greet if a.startswith("--check")]  # pex's default, warn, as Pants'
    assert "--inject-args=--from-pex 'two words'" in greet


def test_ineffective_fields_warn_and_missing_executable_is_an_error(sample, tmp_path):
    project = sample("newer")
    text = (project.path / "pyproject.toml").read_text()
    text = text.replace(
        "sh-boot = true\ncompress = false",
        'sh-boot = true\ncompress = false\nvenv-hermetic-scripts = false\nscie-pbs-release = "20240713"\n'
        "include-sources = false",
        1,
    )
    project.pyproject(text)
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert result.returncode != 0
    assert "pex-backend error: tool.pexbin.include-sources: false leaves the project's wheel out of greet.pex" in said(
        result
    )
    project.pyproject(
        text.replace("\ninclude-sources = false", "").replace(
            'executable = "bin/migrate"', 'executable = "bin/nothing"'
        )
    )
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert (
        "pex-backend error: tool.pexbin.binaries.migrate.executable: 'bin/nothing': no such file in the project root"
        in said(result)
    )
    # validate-entry-point: pex imports the entry point while building, and a name the module lacks fails the build.
    bad = '\n[tool.pexbin.binaries.bad]\nentry-point = "newer.show:missing"\nvalidate-entry-point = true\n'
    project.pyproject(text.replace("\ninclude-sources = false", "") + bad)
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert (
        "pex-backend error: tool.pexbin.binaries.bad.validate-entry-point: pex could not import the entry point "
        "newer.show:missing from the PEX (ImportError: cannot import name 'missing' from 'newer.show')\n"
    ) in said(result), said(result)
    assert "Traceback" not in said(result)
    project.pyproject(text.replace("\ninclude-sources = false", ""))
    warned = said(project.build("uv", tmp_path / "dist", "--wheel"))
    assert (
        "pex-backend: warning: tool.pexbin.venv-hermetic-scripts has no effect on greet.pex without execution-mode"
        in warned
    )
    assert "pex-backend: warning: tool.pexbin.scie-pbs-release has no effect on greet.pex without `scie`" in warned


# A stand-in for the `science` tool (no machine here can download the real one): it answers pex's version question
# and, for `lift ... build`, writes the scie pex asks for (a copy of the PEX) and the checksum files, where and as
# science names them.
FAKE_SCIENCE = """#!{python}
import hashlib, shutil, sys, tomllib
from pathlib import Path
args = sys.argv[1:]
if args == ["--version"]:
    print("0.21.0")
    sys.exit(0)
files = dict(a.split("=", 1) for a, flag in zip(args[1:], args) if flag == "--file")
dest = Path(args[args.index("--dest-dir") + 1])
algs = [a for a, flag in zip(args[1:], args) if flag == "--hash"]
manifest = Path(args[-1])
with manifest.open("rb") as f:
    lift = tomllib.load(f)["lift"]
platform = manifest.stem.split("-lift-")[1]
suffix = "--use-platform-suffix" in args or (bool(lift.get("platforms")) and "--no-use-platform-suffix" not in args)
name = lift["name"] + ("-" + platform if suffix else "")
dest.mkdir(parents=True, exist_ok=True)
shutil.copy(files["pex"], dest / name)
(dest / name).chmod(0o755)
for alg in algs:
    digest = hashlib.new(alg, (dest / name).read_bytes()).hexdigest()
    (dest / (name + "." + alg)).write_text(digest + " *" + name + "\\n")
"""


def test_scies_are_built_published_and_recorded_or_fail_in_one_line_naming_the_key(sample, tmp_path):
    project = sample("newer")
    text = (project.path / "pyproject.toml").read_text()
    # pex gets every scie field; here it cannot fetch `science` (no machine here can), and says so in one line.
    scie = 'executable = "bin/migrate"\nscie = "lazy"\nscie-science-binary = "https://example.invalid/science"\n'
    project.pyproject(text.replace('executable = "bin/migrate"\n', scie))
    result = project.build("uv", tmp_path / "dist", "--wheel", check=False)
    assert result.returncode != 0
    errors = [line for line in said(result).splitlines() if line.startswith("pex-backend error:")]
    assert len(errors) == 1, said(result)
    assert errors[0].startswith(
        "pex-backend error: tool.pexbin.binaries.migrate.scie-science-binary: pex could not get the `science` tool "
        "from it (<urlopen error "
    ), said(result)
    assert "Traceback" not in said(result)
    assert not (tmp_path / "dist").exists() or not list((tmp_path / "dist").glob("*.pex"))

    # With a local `science` (the stand-in), the scies and their checksums are published beside the PEX files and
    # named in the build record; a second build puts new ones in place of the first.
    science = project.path / "tools" / "science"
    science.parent.mkdir()
    science.write_text(FAKE_SCIENCE.format(python=sys.executable))
    science.chmod(0o755)
    scie = (
        'executable = "bin/migrate"\nscie = "lazy"\nscie-science-binary = "tools/science"\n'
        'scie-name-style = "platform-parent-dir"\nscie-hash-alg = "sha256"\n'
    )
    project.pyproject(text.replace('executable = "bin/migrate"\n', scie))
    out = tmp_path / "dist"
    platform = f"linux-{'aarch64' if machine() in ('aarch64', 'arm64') else 'x86_64'}"
    for _ in range(2):
        built = said(project.build("uv", out, "--wheel"))
        assert f"wrote {platform}/migrate, {platform}/migrate.sha256 (pex's scie of migrate.pex)" in built, built
    scie_file = out / platform / "migrate"
    assert facts(scie_file, tmp_path, "up") == {"name": "migrate", "argv": ["up"], "greeting": "migrating"}
    digest = hashlib.sha256(scie_file.read_bytes()).hexdigest()
    assert (out / platform / "migrate.sha256").read_text() == f"{digest} *migrate\n"
    (record,) = out.glob("*.pexbin.json")
    entries = {entry["file"]: entry for entry in json.loads(record.read_text())["binaries"]}
    assert entries["migrate.pex"]["scies"] == [f"{platform}/migrate", f"{platform}/migrate.sha256"]
    assert entries["greet.pex"]["scies"] == []
    assert not [p for p in out.rglob("*") if ".pexbin-" in p.name or ".aside" in p.parts]
