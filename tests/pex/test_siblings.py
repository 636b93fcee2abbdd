"""Siblings by copy: further PEX files of a resolve derived from the first, byte for byte what pex builds."""

from __future__ import annotations

import hashlib
import re
import sys
import zipfile
from pathlib import Path
from typing import Dict, Sequence

from conftest import pex_info, run, run_pex

from pex_backend.pex.siblings import Target, attempt, derive
from pex_backend.pex.zipapp import Entry, read_archive, write

TOOLBOX = {
    "moo.pex": "toolbox.cli:moo",
    "baa.pex": "toolbox.cli:baa",
    "oink.pex": "toolbox.cli:oink",
    "quack.pex": "toolbox.cli:quack",
    "a-very-long-name-for-a-tool.pex": "toolbox.cli:long_name",
    "toolbox_cli-baa.pex": "toolbox.cli:baa",
    "toolbox_report.pex": "toolbox.report",
}
CONSOLE_SIBLINGS = ["baa.pex", "oink.pex", "quack.pex", "a-very-long-name-for-a-tool.pex"]


def said(result) -> str:
    return result.stdout + result.stderr


def derived(output: str) -> Dict[str, str]:
    """Each PEX the build derived, and the PEX it was derived from."""
    return dict(re.findall(r"pex-backend: wrote (\S+) \([^,]+, derived from (\S+)\)", output))


def digests(out: Path, names: Sequence[str] = tuple(TOOLBOX)) -> Dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in names}


def edit(project) -> None:
    cli = project.path / "src" / "toolbox" / "cli.py"
    cli.write_text(cli.read_text().replace('"oink"', '"oink oink"'))


def reference(project, out: Path, tmp_path: Path, names: Sequence[str] = tuple(TOOLBOX)) -> Dict[str, str]:
    """Every PEX as pex builds it: the cache off, and a PEX_ROOT of its own."""
    env = {**project.env, "PEXBIN_NO_CACHE": "1", "PEX_ROOT": str(tmp_path / "reference-pex-root")}
    result = type(project)(project.path, env).build("uv", out, "--wheel")
    assert derived(said(result)) == {}
    return digests(out, names)


def test_siblings_are_derived_once_proven_and_are_what_pex_builds(sample, tmp_path):
    project = sample("toolbox")
    out = tmp_path / "dist"
    cold = said(project.build("uv", out, "--wheel"))
    # A new cache: of each kind, pex builds the first and one more, which proves the derivation of the others.
    assert derived(cold) == dict.fromkeys(CONSOLE_SIBLINGS[1:], "moo.pex"), cold
    assert all(f"pex-backend: wrote {name} (" in cold for name in TOOLBOX)

    # After an edit, pex builds the first of each kind and every other PEX is derived from it.
    edit(project)
    warm = said(project.build("uv", out, "--wheel"))
    assert derived(warm) == {**dict.fromkeys(CONSOLE_SIBLINGS, "moo.pex"), "toolbox_report.pex": "toolbox_cli-baa.pex"}
    assert digests(out) == reference(project, tmp_path / "reference-warm", tmp_path)
    for name, entry_point in TOOLBOX.items():
        assert pex_info(out / name)["entry_point"] == entry_point, name
    assert "oink oink hi" in run_pex(out / "oink.pex", "hi").stdout

    # After a further edit, pex builds the project's own part alone for each first, the rest coming from the PEX
    # an earlier build kept: proven on the edit before (the first built both ways), used from now on.
    cli = project.path / "src" / "toolbox" / "cli.py"
    cli.write_text(cli.read_text().replace('"baa"', '"baa baa"'))
    again = said(project.build("uv", out, "--wheel"))
    for name in ["moo.pex", "toolbox_cli-baa.pex"]:
        assert re.search(
            rf"pex-backend: wrote {re.escape(name)} \([^,]+, [\d.]+ s, pex built the project's part\)", again
        )
    assert derived(again) == derived(warm)
    assert digests(out) == reference(project, tmp_path / "reference-again", tmp_path)
    assert "baa baa" in run_pex(out / "baa.pex").stdout
    assert run_pex(out / "a-very-long-name-for-a-tool.pex").stdout == "a long name\n"
    assert run_pex(out / "toolbox_report.pex", "x").stdout == "report: ['x']\n"


def test_a_derived_sibling_that_differs_turns_derivation_off(sample, tmp_path):
    project = sample("hello")  # its two module entry points are siblings
    out = tmp_path / "dist"
    spoiled = type(project)(project.path, {**project.env, "PEXBIN_TEST_ALTER_SIBLINGS": "1"})
    first = said(spoiled.build("uv", out, "--wheel"))
    assert first.count("differed from pex") == 1, first
    assert "pex builds every PEX from now on with this pex version" in first
    assert derived(first) == {}

    # Off it stays for this pex version, in this cache: pex builds every PEX.
    admin = project.path / "src" / "hello" / "admin.py"
    admin.write_text(admin.read_text() + "# edited\n")
    later = said(project.build("uv", out, "--wheel"))
    assert derived(later) == {} and "differed" not in later and "the project's part" not in later
    hello = ["hello.pex", "hello_admin-main.pex", "report_py.pex"]
    assert digests(out, hello) == reference(project, tmp_path / "reference-later", tmp_path, hello)


def test_what_derivation_does_not_know_is_left_to_pex(tmp_path):
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("PEX-INFO", "{}")
        archive.comment = b"a comment"
    assert "not a zip of the kind" in derive(plain, Target(entry_point="x"), tmp_path / "out.pex")
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("__main__.py", "")
    assert "no PEX-INFO" in derive(plain, Target(entry_point="x"), tmp_path / "out.pex")
    assert list(tmp_path.iterdir()) == [plain]


def a_pex(tmp_path: Path) -> Path:
    """A small zipapp PEX, as pex builds it."""
    source = tmp_path / "src" / "app.py"
    source.parent.mkdir()
    source.write_text("print('app')\n")
    pex = tmp_path / "app.pex"
    run([sys.executable, "-m", "pex", "-D", source.parent, "-e", "app", "-o", pex])
    return pex


def test_a_pex_whose_code_differs_from_the_proven_is_left_to_pex(tmp_path, monkeypatch):
    first = a_pex(tmp_path)
    assert derive(first, Target(entry_point="app:main"), tmp_path / "ok.pex") is None
    # A pex whose writer takes other arguments (say, no `compress`): the shortcut says so, and writes nothing.
    from pex.common import ZipFileEx

    def older(self, filename, arcname=None, deterministic=True):
        self.write(filename, arcname)

    monkeypatch.setattr(ZipFileEx, "write_deterministic", older)
    why = derive(first, Target(entry_point="app:other"), tmp_path / "other.pex")
    assert why.startswith("pex's code is not what was proven (TypeError: ") and "'compress'" in why, why
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.pex", "ok.pex", "src"]


def test_an_output_that_would_need_zip64_is_left_to_pex(tmp_path):
    first = a_pex(tmp_path)
    archive = read_archive(first.read_bytes())
    head = archive.data[: archive.entries[0].start]
    output = tmp_path / "big.pex"
    many = [(archive, archive.entries[0])] * zipfile.ZIP_FILECOUNT_LIMIT
    assert "needs zip64" in attempt(lambda: write(archive, head, many, output))
    large = Entry(archive.entries[0].info, 0, zipfile.ZIP64_LIMIT, archive.entries[0].central)
    assert "needs zip64" in attempt(lambda: write(archive, head, [(archive, large)], output))
    assert not output.exists() and not output.with_name("big.pex.partial").exists()
