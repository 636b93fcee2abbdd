"""The backend's own bytecode, kept in the build cache: a build environment is new every build and has none, so
the hooks read the backend's compiled modules from the cache, checked, and compile only what the cache lacks."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, Optional

import pytest
from conftest import ROOT
from packaging.version import Version

from pex_backend.backend.config import settings
from pex_backend.bytecode import FORMAT, KIND, BytecodeStore, cache_root
from pex_backend.errors import ConfigError

SETUPTOOLS_MODULES = (
    "setuptools/build_meta.py",
    "setuptools/command/bdist_wheel.py",
    "setuptools/_distutils/core.py",
    "setuptools/_vendor/jaraco/text/__init__.py",
    "setuptools/_vendor/more_itertools/more.py",
)
IMPORTED = re.compile(r"importing the backend \((\d+) modules from the build cache, (\d+) compiled\)")


def imports(output: str):
    """(read from the cache, compiled) of each hook process, in order."""
    return [(int(read), int(compiled)) for read, compiled in IMPORTED.findall(output)]


def test_the_backend_is_compiled_by_the_first_build_and_read_by_the_next(sample, wheelhouse, tmp_path):
    project = sample("hello")
    project.env["PEXBIN_TIMINGS"] = "1"
    out = tmp_path / "dist"
    kept = Path(project.env["PEXBIN_CACHE_DIR"]) / f"v{FORMAT}" / KIND
    shutil.rmtree(kept)  # the tests' caches start with the backend compiled
    first = project.build("uv", out, "--wheel")
    # get_requires_for_build_wheel compiles the hooks' modules; build_wheel, in a process of its own, reads them.
    [(reads, compiled), later] = imports(first.stdout + first.stderr)
    assert reads == 0 and compiled > 20 and later == (compiled, 0)
    assert len(list(kept.iterdir())) >= compiled  # and those imported as a build goes
    # `packaging`'s modules too, installed uncompiled beside the backend (from the wheelhouse here).
    (packaging,) = wheelhouse.glob("packaging-*.whl")
    with zipfile.ZipFile(packaging) as wheel:
        assert (kept / BytecodeStore.key(wheel.read("packaging/requirements.py"))).is_file()
    # And setuptools', with the distutils it provides and what it vendors: what the hooks import with the backend,
    # and what setuptools imports as it builds the wheel (its commands).
    setuptools = max(wheelhouse.glob("setuptools-*.whl"), key=lambda wheel: Version(wheel.name.split("-")[1]))
    with zipfile.ZipFile(setuptools) as wheel:
        for name in SETUPTOOLS_MODULES:
            assert (kept / BytecodeStore.key(wheel.read(name))).is_file(), name

    again = project.build("uv", out, "--wheel")
    assert imports(again.stdout + again.stderr) == [(compiled, 0), (compiled, 0)]

    # A damaged entry is compiled again and written whole; a stray file is never read.
    hooks = kept / BytecodeStore.key((ROOT / "pex_backend" / "backend" / "hooks.py").read_bytes())
    data = bytearray(hooks.read_bytes())
    data[len(data) // 2] ^= 1
    hooks.write_bytes(bytes(data))
    (kept / ".stray.tmp").write_bytes(b"half")
    third = project.build("uv", out, "--wheel")
    assert imports(third.stdout + third.stderr) == [(compiled - 1, 1), (compiled, 0)]
    fourth = project.build("uv", out, "--wheel")
    assert imports(fourth.stdout + fourth.stderr) == [(compiled, 0), (compiled, 0)]


def test_without_the_build_cache_no_bytecode_is_kept(sample, tmp_path):
    project = sample("hello")
    project.env.update(PEXBIN_TIMINGS="1", PEXBIN_NO_CACHE="1", PEXBIN_CACHE_DIR=str(tmp_path / "off"))
    built = project.build("uv", tmp_path / "dist", "--sdist")  # every hook imports the backend: sdists will do
    assert imports(built.stdout + built.stderr) == []
    assert not (tmp_path / "off").exists()

    # Where -C pexbin.cache-dir puts the build cache, the bytecode goes too (the environment's setting wins).
    del project.env["PEXBIN_NO_CACHE"]
    project.env["PEXBIN_CACHE_DIR"] = str(tmp_path / "unused")
    built = project.build("uv", tmp_path / "dist", "--sdist", f"-Cpexbin.cache-dir={tmp_path / 'ignored'}")
    assert list((tmp_path / "unused" / f"v{FORMAT}" / KIND).iterdir())
    del project.env["PEXBIN_CACHE_DIR"]
    elsewhere = tmp_path / "elsewhere"
    built = project.build("uv", tmp_path / "dist", "--sdist", f"-Cpexbin.cache-dir={elsewhere}")
    assert imports(built.stdout + built.stderr)
    assert list((elsewhere / f"v{FORMAT}" / KIND).iterdir())
    assert not (tmp_path / "ignored").exists()


SETTINGS = [
    ({}, {}),
    ({"pexbin.cache-dir": "{tmp}/a"}, {}),
    ({"pexbin.cache-dir": ["{tmp}/a"]}, {}),
    ({"pexbin.cache-dir": "{tmp}/a"}, {"PEXBIN_CACHE_DIR": "{tmp}/b"}),
    ({}, {"PEXBIN_CACHE_DIR": "{tmp}/b/../c"}),
    ({"pexbin.no-cache": "true"}, {}),
    ({"pexbin.no-cache": "Off"}, {"PEXBIN_CACHE_DIR": "{tmp}/b"}),
    ({"pexbin.no-cache": "yes"}, {"PEXBIN_NO_CACHE": "0"}),
    ({"pexbin.no-cache": "0"}, {"PEXBIN_NO_CACHE": " ON "}),
    ({"pexbin.no-cache": ""}, {}),
    ({"pexbin.cache-dir": "~/x"}, {"HOME": "{tmp}/home"}),
    ({"pexbin.cache-dir": ""}, {}),
    ({"pexbin.no-cache": "maybe"}, {}),
    ({"pexbin.cache-dir": ["{tmp}/a", "{tmp}/b"]}, {}),
    ({"pexbin.cache-dir": 3}, {}),
]


@pytest.mark.parametrize("config_settings, environ", SETTINGS)
def test_the_bytecode_goes_where_the_settings_put_the_build_cache(tmp_path, monkeypatch, config_settings, environ):
    """Worked out before the settings' module is imported, with the same answer whenever the settings are valid,
    and none (no bytecode kept) when they are not."""

    def filled(value: object) -> object:
        if isinstance(value, list):
            return [filled(item) for item in value]
        return value.replace("{tmp}", str(tmp_path)) if isinstance(value, str) else value

    config_settings = {key: filled(value) for key, value in config_settings.items()}
    environ = {key: str(filled(value)) for key, value in environ.items()}
    if "HOME" in environ:
        monkeypatch.setenv("HOME", environ["HOME"])
    try:
        expected: Optional[Path] = settings.read(config_settings, environ).cache_dir
    except ConfigError:
        expected = None
    assert cache_root(config_settings, environ) == expected


TOY = """\
import sys, json
from pathlib import Path
from pex_backend.bytecode import BackendFinder, BytecodeStore
store = BytecodeStore(Path(sys.argv[1]))
sys.meta_path.insert(0, BackendFinder(store, ["toy."]))
sys.path.insert(0, sys.argv[2])
import toy.module
try:
    toy.module.fail()
except ValueError as error:
    line = error.__traceback__.tb_next.tb_frame.f_code.co_filename
print(json.dumps({"read": store.reused, "compiled": store.compiled, "value": toy.module.VALUE, "traceback": line}))
"""


def toy_import(store: Path, environment: Path) -> Dict[str, object]:
    result = subprocess.run(
        [sys.executable, "-c", TOY, str(store), str(environment)],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def toy_environment(where: Path, value: int) -> Path:
    (where / "toy").mkdir(parents=True)
    (where / "toy" / "__init__.py").write_text("")
    (where / "toy" / "module.py").write_text(f"VALUE = {value}\n\n\ndef fail():\n    raise ValueError('x')\n")
    return where


def test_a_module_s_code_is_read_by_its_source_and_names_the_file_it_was_read_for(tmp_path):
    store = tmp_path / "store"
    # The package and its module (a top-level package is served too: `packaging`).
    one = toy_import(store, toy_environment(tmp_path / "env-1", 1))
    assert (one["read"], one["compiled"], one["value"]) == (0, 2, 1)
    # Another environment (a frontend's next one) with the same sources: read, and its tracebacks name this one.
    two = toy_import(store, toy_environment(tmp_path / "env-2", 1))
    assert (two["read"], two["compiled"], two["value"]) == (2, 0, 1)
    assert two["traceback"] == str(tmp_path / "env-2" / "toy" / "module.py")
    # A changed source is compiled, never served the old code.
    three = toy_import(store, toy_environment(tmp_path / "env-3", 3))
    assert (three["read"], three["compiled"], three["value"]) == (1, 1, 3)
    assert len(list(store.iterdir())) == 3


DISTUTILS = """\
import json, sys
from pathlib import Path
from pex_backend.bytecode import BackendFinder, BytecodeStore
store = BytecodeStore(Path(sys.argv[1]))
sys.meta_path.insert(0, BackendFinder(store))
import distutils.core
import setuptools.build_meta
print(json.dumps({"distutils": distutils.core.__file__, "setuptools": setuptools.__file__, "read": store.reused}))
"""


def test_setuptools_distutils_stays_setuptools_own(tmp_path):
    """setuptools' modules come through the store, and `import distutils` still gets setuptools' copy (its
    `_distutils_hack` answers that name; the finder leaves it alone), not the standard library's (Python 3.11 and
    earlier have one)."""
    store = tmp_path / "store"
    env = {key: value for key, value in os.environ.items() if key != "SETUPTOOLS_USE_DISTUTILS"}
    env.update(PYTHONPATH=str(ROOT), PYTHONDONTWRITEBYTECODE="1")
    said = []
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", DISTUTILS, str(store)], capture_output=True, text=True, env=env)
        assert result.returncode == 0, result.stderr
        said.append(json.loads(result.stdout))
    setuptools = Path(said[0]["setuptools"]).parent
    assert said[0]["distutils"] == str(setuptools / "_distutils" / "core.py")
    assert said[1]["read"] > 50  # the second reads what the first compiled
    assert (store / BytecodeStore.key((setuptools / "_distutils" / "core.py").read_bytes())).is_file()
