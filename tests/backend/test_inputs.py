"""Every bad input is one `pex-backend error:` line naming the key or setting, found before any work starts.

The table of bad inputs runs the `build_wheel` hook in-process (each mistake is found before setuptools runs);
a few of them go through `python -m build` too, to show the hook boundary. Then the settings reader and the config
loader are fed arbitrary values, and the smaller wrong answers: `--tag -slow`, a console script's own name, the
names a module binds, and interpreter constraints matched as pex matches them.
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Mapping, Optional, Union

import pytest
from conftest import SAMPLES, Project, listing, run
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

import pex_backend
from pex_backend.backend.config import settings
from pex_backend.backend.config.load import load
from pex_backend.backend.config.table import BINARY_FIELDS, BINARY_ONLY, NESTED_TABLES, SINGLE_BINARY_ONLY, TABLE_FIELDS
from pex_backend.backend.constraints import problem, running_interpreter_matches
from pex_backend.backend.entry_points import EntryPoint, binary_name, top_level_names
from pex_backend.backend.inputs import inside_project
from pex_backend.errors import ConfigError

COMPLETE_PLATFORM = '{"marker_environment": {}, "compatible_tags": []}'
NOT_INSIDE = "must be a path inside the project root"


@dataclass(frozen=True)
class Case:
    """One bad input: what to change in a copy of `sample_projects/hello`, and the one line it must give.

    `{root}` and `{outside}` (a directory beside the project) are filled in everywhere; a file whose content starts
    with `->` is a symlink to the rest.
    """

    id: str
    expected: str
    table: str = ""
    """Lines added to the `[tool.pexbin]` table."""
    entry_points: Optional[str] = None
    """A replacement for the table's `entry-points` array."""
    files: Mapping[str, Union[str, bytes]] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    config_settings: Optional[Dict[str, object]] = None


CASES = [
    # Settings: environment variables and config-settings.
    Case(
        "output-dir-is-a-file",
        "environment variable PEXBIN_OUTPUT_DIR: expected a directory, but {outside}/file is a file",
        files={"{outside}/file": "x"},
        env={"PEXBIN_OUTPUT_DIR": "{outside}/file"},
    ),
    Case(
        "output-dir-inside-a-file",
        "environment variable PEXBIN_OUTPUT_DIR: expected a directory, but {outside}/file is a file",
        files={"{outside}/file": "x"},
        env={"PEXBIN_OUTPUT_DIR": "{outside}/file/dist"},
    ),
    Case(
        "cache-dir-is-a-file",
        "environment variable PEXBIN_CACHE_DIR: expected a directory, but {outside}/file is a file",
        files={"{outside}/file": "x"},
        env={"PEXBIN_CACHE_DIR": "{outside}/file"},
    ),
    Case(
        "no-such-user",
        "config-settings pexbin.output-dir: '~nosuchuser/dist': '~nosuchuser' names no home directory here",
        config_settings={"pexbin.output-dir": "~nosuchuser/dist"},
    ),
    Case(
        "nul-byte",
        "config-settings pexbin.cache-dir: 'a\\x00b' holds a NUL byte, which no path can",
        config_settings={"pexbin.cache-dir": "a\0b"},
    ),
    Case(
        "setting-not-a-string",
        "config-settings pexbin.skip: expected a string, got the boolean true",
        config_settings={"pexbin.skip": True},
    ),
    Case(
        "tag-not-a-string",
        "config-settings pexbin.tags: expected a string, got an array",
        config_settings={"pexbin.tags": ["a", ["b"]]},
    ),
    Case(
        "setting-given-twice",
        "config-settings pexbin.output-dir: expected one value, got 2: 'a', 'b'",
        config_settings={"pexbin.output-dir": ["a", "b"]},
    ),
    # The pyproject file itself.
    Case(
        "pyproject-not-utf-8",
        "pyproject.toml: is not UTF-8 text, as TOML must be "
        "('utf-8' codec can't decode byte 0xff in position 2: invalid start byte)",
        files={"pyproject.toml": b"# \xff\n"},
    ),
    # Interpreter constraints, as pex reads them.
    Case(
        "bad-interpreter-constraint",
        "tool.pexbin.interpreter-constraints[0]: 'CPython>=>3' is not an interpreter constraint pex understands "
        "(Invalid specifier: '>=>3')",
        table='interpreter-constraints = ["CPython>=>3"]',
    ),
    Case(
        "unsatisfiable-interpreter-constraint-in-an-override",
        "tool.pexbin.overrides.\"hello\".interpreter-constraints[1]: '>=3.8,<3.8' is not an interpreter "
        "constraint pex understands (The interpreter constraint <3.8,>=3.8 is unsatisfiable.)",
        table='[tool.pexbin.overrides]\nhello = { interpreter-constraints = [">=3.9", ">=3.8,<3.8"] }',
    ),
    Case(
        "unknown-implementation-in-a-binary",
        "tool.pexbin.binaries.tool.interpreter-constraints[0]: 'Jython>=2' is not an interpreter constraint pex "
        "understands (Invalid specifier: 'Jython>=2')",
        table='[tool.pexbin.binaries.tool]\nentry-point = "hello.cli:main"\ninterpreter-constraints = ["Jython>=2"]',
    ),
    # Paths stay in the project.
    Case(
        "absolute-file-entry-point",
        f"tool.pexbin.entry-points[1]: '{{root}}/src/hello/tools/report.py' {NOT_INSIDE}, relative to it",
        entry_points='["hello", "{root}/src/hello/tools/report.py"]',
    ),
    Case(
        "file-entry-point-out-of-the-root",
        f"tool.pexbin.entry-points[0]: '../outside/app.py' {NOT_INSIDE}; it leads to {{outside}}/app.py",
        entry_points='["../outside/app.py"]',
        files={"{outside}/app.py": "def main(): pass\n"},
    ),
    Case(
        "file-entry-point-symlinked-out",
        f"tool.pexbin.entry-points[0]: 'src/hello/tools/link.py' {NOT_INSIDE}; it leads to {{outside}}/app.py",
        entry_points='["src/hello/tools/link.py:main"]',
        files={"{outside}/app.py": "def main(): pass\n", "src/hello/tools/link.py": "->{outside}/app.py"},
    ),
    Case(
        "binary-entry-point-absolute",
        f"tool.pexbin.binaries.tool.entry-point: '{{outside}}/app.py' {NOT_INSIDE}, relative to it",
        table='[tool.pexbin.binaries.tool]\nentry-point = "{outside}/app.py"',
        files={"{outside}/app.py": "def main(): pass\n"},
    ),
    Case(
        "file-entry-point-missing",
        "tool.pexbin.entry-points[2]: 'src/hello/tools/gone.py': no such file in the project root",
        entry_points='["hello", "hello.admin:main", "src/hello/tools/gone.py"]',
    ),
    Case(
        "complete-platform-absolute",
        f"tool.pexbin.complete-platforms[0]: '{{outside}}/py312.json' {NOT_INSIDE}, relative to it",
        table='complete-platforms = ["{outside}/py312.json"]',
        files={"{outside}/py312.json": COMPLETE_PLATFORM},
    ),
    Case(
        "complete-platform-symlinked-out",
        f"tool.pexbin.complete-platforms[0]: 'platforms/py312.json' {NOT_INSIDE}; it leads to {{outside}}/py312.json",
        table='complete-platforms = ["platforms/py312.json"]',
        files={"{outside}/py312.json": COMPLETE_PLATFORM, "platforms/py312.json": "->{outside}/py312.json"},
    ),
    Case(
        "complete-platform-out-of-the-root-in-an-override",
        "tool.pexbin.overrides.\"hello\".complete-platforms[0]: 'platforms/../../outside/py312.json' "
        f"{NOT_INSIDE}; it leads to {{outside}}/py312.json",
        table='[tool.pexbin.overrides]\nhello = { complete-platforms = ["platforms/../../outside/py312.json"] }',
        files={"{outside}/py312.json": COMPLETE_PLATFORM},
    ),
    Case(
        "complete-platform-missing",
        "tool.pexbin.complete-platforms[0]: 'platforms/py312.json': no such file in the project root",
        table='complete-platforms = ["platforms/py312.json"]',
    ),
    Case(
        "complete-platform-not-json",
        "tool.pexbin.complete-platforms[0]: 'platforms/py312.json' is not JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))",
        table='complete-platforms = ["platforms/py312.json"]',
        files={"platforms/py312.json": "{not json"},
    ),
    Case(
        "lockfile-absolute",
        f"tool.pexbin.resolves.default: '{{outside}}/pex.lock' {NOT_INSIDE}, relative to it",
        table='resolves = { default = "{outside}/pex.lock" }',
        files={"{outside}/pex.lock": "{}"},
    ),
    Case(
        "lockfile-missing",
        "tool.pexbin.resolves.default: 'pex.lock': no such file in the project root; "
        "create it with `python -m pex_backend lock`",
        table='resolves = { default = "pex.lock" }',
    ),
    Case(
        "lockfile-not-json",
        "tool.pexbin.resolves.default: 'pex.lock' is not a pex lock, which is JSON "
        "(Expecting value: line 1 column 1 (char 0))",
        table='resolves = { default = "pex.lock" }',
        files={"pex.lock": "not json"},
    ),
    Case(
        "pylock-not-toml",
        "tool.pexbin.resolves.default: 'pylock.toml' is not valid TOML: "
        "Expected ']' at the end of a table declaration (at end of document)",
        table='resolves = { default = "pylock.toml" }',
        files={"pylock.toml": "[x"},
    ),
    # An output name cannot leave the output dir, nor hide in it.
    Case(
        "output-name-dot-dot",
        "tool.pexbin.overrides.\"hello\".output-name: '..' is not a file name without directories or a leading dot",
        table='[tool.pexbin.overrides]\nhello = { output-name = ".." }',
    ),
    Case(
        "output-name-with-a-directory",
        "tool.pexbin.overrides.\"hello\".output-name: 'bin/hello' is not a file name without directories or a "
        "leading dot",
        table='[tool.pexbin.overrides]\nhello = { output-name = "bin/hello" }',
    ),
]
BY_ID = {case.id: case for case in CASES}


def apply(case: Case, root: Path, outside: Path) -> Dict[str, str]:
    """Make the case's changes to the project at `root`; returns its environment variables."""

    def fill(text: str) -> str:
        return text.replace("{root}", str(root)).replace("{outside}", str(outside))

    pyproject = root / "pyproject.toml"
    text = pyproject.read_text()
    if case.entry_points is not None:
        start = text.index("entry-points = [")
        text = text[:start] + f"entry-points = {fill(case.entry_points)}" + text[text.index("\n", start) :]
    pyproject.write_text(text + fill(case.table) + "\n")
    for name, content in case.files.items():
        path = root / fill(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content + path.read_bytes() if path.exists() else content)
        elif content.startswith("->"):
            path.symlink_to(fill(content[2:]))
        else:
            path.write_text(content)
    return {name: fill(value) for name, value in case.env.items()}


def expected_line(case: Case, root: Path, outside: Path) -> str:
    return "pex-backend error: " + case.expected.replace("{root}", str(root)).replace("{outside}", str(outside))


@pytest.fixture
def hello(tmp_path: Path) -> Path:
    root = tmp_path / "hello"
    shutil.copytree(SAMPLES / "hello", root)
    (tmp_path / "outside").mkdir()
    return root.resolve()


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_a_bad_input_is_one_line_from_the_hook_before_any_work(case, hello, monkeypatch, capsys):
    outside = hello.parent / "outside"
    for name in [name for name in os.environ if name.startswith("PEXBIN_")]:
        monkeypatch.delenv(name)
    for name, value in apply(case, hello, outside).items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(hello)
    before = sorted(str(path.relative_to(hello)) for path in hello.rglob("*"))
    out = hello.parent / "dist"
    out.mkdir()
    with pytest.raises(SystemExit) as exited:
        pex_backend.build_wheel(str(out), case.config_settings)
    captured = capsys.readouterr()
    assert exited.value.code == 1
    assert captured.out == ""
    assert captured.err.splitlines() == [expected_line(case, hello, outside)]
    assert listing(out) == []
    assert sorted(str(path.relative_to(hello)) for path in hello.rglob("*")) == before  # setuptools never ran


FRONTEND_CASES = ["absolute-file-entry-point", "complete-platform-symlinked-out", "bad-interpreter-constraint"]
FRONTEND_CASES.append("output-dir-is-a-file")


@pytest.mark.parametrize("case_id", FRONTEND_CASES)
def test_a_bad_input_is_one_line_through_a_frontend(sample, tmp_path, case_id):
    project = sample("hello")
    root = project.path.resolve()
    outside = project.path.parent / "outside"
    outside.mkdir()
    project.env.update(apply(BY_ID[case_id], root, outside.resolve()))
    out = tmp_path / "dist"
    result = project.build("build", out, "--wheel", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("pex-backend error:")]
    assert errors == [expected_line(BY_ID[case_id], root, outside.resolve())], output
    assert not out.exists() or listing(out) == []


def test_a_pyproject_that_is_not_utf_8_is_one_line_from_the_commands(sample):
    # Frontends parse pyproject.toml themselves before they call a hook; the commands read it through ours.
    project = sample("hello")
    pyproject = project.path / "pyproject.toml"
    pyproject.write_bytes(b"# \xff\n" + pyproject.read_bytes())
    command = [sys.executable, "-m", "pex_backend", "list", "--project", project.path]
    result = run(command, env=project.env, check=False)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [expected_line(BY_ID["pyproject-not-utf-8"], project.path, project.path)]


def test_the_commands_check_inputs_as_the_build_does(sample):
    project = sample("hello")
    outside = project.path.parent / "outside"
    outside.mkdir()
    apply(BY_ID["file-entry-point-symlinked-out"], project.path.resolve(), outside.resolve())
    command = [sys.executable, "-m", "pex_backend", "list", "--project", project.path]
    result = run(command, env=project.env, check=False)
    assert result.returncode == 1
    expected = expected_line(BY_ID["file-entry-point-symlinked-out"], project.path.resolve(), outside.resolve())
    assert result.stderr.splitlines() == [expected]


# Property tests: whatever the values, the reader and the loader answer with their own error, naming a key.

KEY_PATHS = ("tool.pexbin", "config-settings pexbin.", "environment variable PEXBIN_")
SETTING_NAMES = [settings.PREFIX + name for name in settings.SETTINGS] + ["pexbin.outdir", "other"]
VARIABLES = [variable for variable, _ in settings.SETTINGS.values()]
TEXT = st.text(max_size=12) | st.sampled_from(["", "~", "~nosuchuser/x", "a\0b", "/", "..", "true", "-x,y", "\udc80"])
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)


def spellings(keys) -> list:
    return [*keys, *(key.replace("-", "_") for key in keys)]


def mostly(usual: st.SearchStrategy, rare: st.SearchStrategy) -> st.SearchStrategy:
    """`usual` four times in five."""
    return st.integers(0, 4).flatmap(lambda n: rare if n == 0 else usual)


# TOML values: strings, numbers, booleans, arrays and tables, often the strings and arrays the model gives meaning
# to, so that the loader gets past the first type check.
MEANINGFUL = st.sampled_from(["zipapp", "venv", "false", "prefer", "hello", "hello.cli:main", "src/x.py", ">=3.9"])
PLAUSIBLE = MEANINGFUL | st.lists(MEANINGFUL | st.text(max_size=6), max_size=3) | st.booleans()
ANY_KEY = st.text(max_size=8)
FIELD_KEY = st.sampled_from(spellings([*BINARY_FIELDS, *BINARY_ONLY, *SINGLE_BINARY_ONLY]))
TOP_KEY = st.sampled_from(spellings([*BINARY_FIELDS, *TABLE_FIELDS, *NESTED_TABLES]))
TOML_SCALAR = st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=10)
TOML_VALUE = st.recursive(
    TOML_SCALAR | MEANINGFUL,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(FIELD_KEY | ANY_KEY, inner, max_size=3),
    max_leaves=8,
)
VALUE = mostly(PLAUSIBLE, TOML_VALUE)
FIELDS = st.dictionaries(mostly(FIELD_KEY, ANY_KEY), VALUE, max_size=3)
NAMED_FIELDS = st.dictionaries(MEANINGFUL | st.sampled_from(["x", "a, b", "", ".."]) | ANY_KEY, FIELDS, max_size=2)
TABLE = st.dictionaries(mostly(TOP_KEY, ANY_KEY), VALUE | NAMED_FIELDS, max_size=5)


def only_config_errors(call) -> None:
    try:
        call()
    except ConfigError as exc:
        assert str(exc).startswith(KEY_PATHS), str(exc)


@hypothesis_settings(max_examples=1500, deadline=None)
@given(
    st.none() | st.dictionaries(st.sampled_from(SETTING_NAMES) | TEXT | st.integers(), JUNK, max_size=4),
    st.dictionaries(st.sampled_from(VARIABLES), TEXT, max_size=3),
)
def test_the_settings_reader_raises_only_its_own_error(config_settings, environ):
    only_config_errors(lambda: settings.read(config_settings, environ))


@hypothesis_settings(max_examples=1500, deadline=None)
@given(mostly(TABLE, TOML_VALUE))
def test_the_config_loader_raises_only_its_own_error(table):
    only_config_errors(lambda: load({"tool": {"pexbin": table}}))


@hypothesis_settings(max_examples=300, deadline=None)
@given(TEXT | st.text())
def test_any_path_is_inside_the_project_or_one_error(tmp_path_factory, path):
    root = tmp_path_factory.getbasetemp()
    try:
        assert inside_project(root, path, "tool.pexbin.resolves.x").is_relative_to(root.resolve())
    except ConfigError as exc:
        assert str(exc).startswith("tool.pexbin.resolves.x: ")


@hypothesis_settings(max_examples=300, deadline=None)
@given(st.text(max_size=20) | st.sampled_from(["CPython>=3", "PyPy", "CPython[gil]", "CPython-t<", ">=3,<3"]))
def test_pex_judges_any_constraint_without_failing(constraint):
    why = problem(constraint)
    assert why is None or isinstance(why, str)
    assert running_interpreter_matches([constraint]) in (True, False)


# The smaller wrong answers.

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
VERSION = f"{sys.version_info[0]}.{sys.version_info[1]}"


@pytest.mark.skipif(sys.implementation.name != "cpython" or FREE_THREADED, reason="judged for a GIL CPython")
@pytest.mark.parametrize(
    "constraint, matches",
    [
        (f">={VERSION}", True),
        (f"CPython>={VERSION},<4", True),
        (f"CPython[gil]>={VERSION}", True),
        (f"CPython-t=={VERSION}.*", True),
        (f"CPython+t>={VERSION}", False),
        (f"CPython[free-threaded]>={VERSION}", False),
        (f"PyPy>={VERSION}", False),
        (f"CPython<{VERSION}", False),
        ("CPython==2.7.*", False),
    ],
)
def test_the_running_interpreter_is_matched_as_pex_matches_it(constraint, matches):
    assert problem(constraint) is None
    assert running_interpreter_matches([constraint]) is matches
    assert running_interpreter_matches(["CPython==2.7.*", constraint]) is matches  # entries are OR-ed


def test_no_constraints_match_any_interpreter():
    assert running_interpreter_matches([])


def test_tag_values_starting_with_a_dash_are_taken_as_values(sample):
    project = sample("fields")
    command = [sys.executable, "-m", "pex_backend", "list", "--project", project.path]
    spaced = run([*command, "--tag", "-venv"], env=project.env).stdout
    assert spaced == run([*command, "--tag=-venv"], env=project.env).stdout
    assert "probe " not in spaced and len(spaced.splitlines()) == 5
    assert run([*command, "--tag", "cli", "--tag", "-venv"], env=project.env).stdout == spaced


def test_a_console_script_keeps_its_own_name(offline_env, tmp_path):
    root = tmp_path / "pt"
    (root / "pt").mkdir(parents=True)
    (root / "pt" / "__init__.py").write_text("")
    (root / "pt" / "cli.py").write_text("def main():\n    print('py.test ran')\n")
    (root / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["pex-backend"]\nbuild-backend = "pex_backend"\n\n'
        '[project]\nname = "pt"\nversion = "1.0"\n\n[project.scripts]\n"py.test" = "pt.cli:main"\n\n[tool.pexbin]\n'
    )
    project = Project(root, {**offline_env, "PEXBIN_CACHE_DIR": str(tmp_path / "pexbin-cache")})
    out = tmp_path / "dist"
    project.build("build", out, "--wheel")
    assert "py.test.pex" in listing(out)
    assert run([out / "py.test.pex"]).stdout == "py.test ran\n"


@pytest.mark.parametrize(
    "entry_point, name",
    [
        (EntryPoint("py.test", script="py.test"), "py.test"),
        (EntryPoint("hello", script="hello"), "hello"),
        (EntryPoint(".hidden", script=".hidden"), "_hidden"),
        (EntryPoint("pkg.mod:main", module="pkg.mod:main"), "pkg_mod-main"),
        (EntryPoint("src/app.py:main", module="app:main"), "app_py-main"),
    ],
)
def test_binary_names(entry_point, name):
    assert binary_name(entry_point) == name


BINDINGS = {
    "def": "def main(): pass",
    "async def": "async def main(): pass",
    "class": "class main: pass",
    "assignment": "main = print",
    "unpacking": "first, (second, *main) = 1, (2, 3)",
    "annotated assignment": "main: object = print",
    "augmented assignment": "main = 0\nmain += 1",
    "import": "import main",
    "import as": "from os import path as main",
    "dotted import": "import main.sub",
    "for": "for main in [print]: pass",
    "with as": "with open(__file__) as main: pass",
    "except as": "try:\n    pass\nexcept Exception as main:\n    pass",
    "walrus": "(main := print)",
    "walrus in a comprehension": "[(main := x) for x in [print]]",
    "global in a function": "def setup():\n    global main\n    main = print\nsetup()",
    "nested in if and while": "if True:\n    while True:\n        main = print\n        break",
}
if sys.version_info >= (3, 10):
    BINDINGS["match-case capture"] = "match print:\n    case main:\n        pass"


@pytest.mark.parametrize("source", BINDINGS.values(), ids=BINDINGS.keys())
def test_a_function_is_found_however_the_module_binds_it(source):
    assert "main" in top_level_names(source)


@pytest.mark.parametrize(
    "source",
    [
        "def other():\n    main = 1",
        "def other():\n    global main\n    return main",
        "class K:\n    main = 1",
        "lambda main: main",
    ],
)
def test_names_bound_only_inside_a_scope_are_not_top_level(source):
    assert "main" not in top_level_names(source)


def test_a_star_import_makes_the_names_unknowable():
    assert top_level_names("from os import *\n") is None
    assert top_level_names("if True:\n    from os import *\n") is None
