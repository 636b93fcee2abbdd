"""Benchmark: pex-backend against plain setuptools and other PEX and zipapp builders, for K entry points.

    python bench/run.py [--k 1 5 10 20] [--frontends build uv] [--repeat 3] [--pip-k 5] [--restart-k 5]
                        [--others-k 1 5] [--others-repeat N] [--others pex-loop shiv hatch-pex] [--no-others]
                        [--output DIR] [--chart PATH] [--doc PAGE] [--no-readme] [--from-json RESULTS]

Run it from an environment holding `build`, `uv` and `pex` (`pip install ".[test,bench]"`; matplotlib, from the
`bench` extra, draws the chart). For every K it generates a project with K console scripts depending on click, rich
and requests, and times, through each frontend (`python -m build --wheel`, `uv build --wheel`):

- cold:           empty PEX_ROOT and empty pex-backend build cache (uv resolves, the default; uv's and pip's
                  caches warm);
- cold, every cache empty: uv's cache (a fresh UV_CACHE_DIR) and pip's (PIP_CACHE_DIR) empty too, so the
                  frontend downloads the build requirements and uv the project's;
- cold, pip:      as cold, with `resolver = "pip"` in the table (pex resolves with pip), for the K of --pip-k;
- after an edit:  both caches warm, one source file edited before each build (so the wheel and every PEX change);
                  two untimed edit builds first make the proofs a build cache makes once per pex version and
                  shape (splicing, then the project's part written without a pex run), as every later edit finds;
- no-change:      the same sources built again (the build cache serves every PEX);
- setuptools:     the same project with `build-backend = "setuptools.build_meta"` and no table;
- setuptools+pex: the same, with pex also installed into the build environment (the floor of any build that
                  runs pex there).

First, `pexbin run`'s restart (bench/restart.py), for the K of --restart-k: `python -m pex_backend run cmd1 --restart`,
then a source file saved --repeat times, each timed from the save to the restarted program's first output.

Then, frontend-independent and for each K of --others-k, other tools, each with its own warm caches and one
source edit before each run (a tool that does not install or run is recorded as "-" with the reason):

- pex loop:   `pex --project . -c NAME -o NAME.pex` once per entry point;
- shiv:       `shiv -c NAME -o NAME.pyz .` once per entry point, pip's cache warm;
- hatch-pex:  `hatch build -t pex` on a hatchling variant of the project with `[tool.hatch.build.targets.pex]`.

shiv, hatch and hatch-pex are installed from the index into a venv of their own under the work directory. With
--no-others, the other tools' results of the previous OUTPUT/results.json are kept, labelled as from an earlier run.

Each cell is the median wall time of the repeats and the peak resident memory of the largest process. The results
go to stdout, to OUTPUT/results.md (Markdown tables with the machine it ran on, and the targets met or not) and
OUTPUT/results.json (rewritten after each cell, so a stopped run leaves what it measured; --from-json renders it);
the chart (seconds against K) to --chart; and results.md with the chart's image into --doc (docs/speed.md, or
README.md, whichever holds the `<!-- bench results -->` markers) between them (unless --no-readme). The tables, the
chart and the targets are bench/report.py's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import report as reporting
import restart
from report import FRONTENDS, MODES, OTHERS

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
CHART = ROOT / "docs" / "speed.svg"
REQUIREMENTS = ["click", "rich", "requests"]
OTHERS_PACKAGES = ["shiv", "hatch", "hatch-pex"]
# Runs a command with its output in a log file and prints the peak resident memory (KiB on Linux) of the largest
# process it started.
MEASURE = (
    "import resource, subprocess, sys\n"
    "with open(sys.argv[1], 'wb') as log:\n"
    "    code = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


class BenchError(Exception):
    """One measurement failed; its message is one line, the reason recorded in the results."""


def generate(directory: Path, k: int, backend: str) -> Path:
    """A project with K console scripts; `backend` is pex_backend (with a table; pex_backend+pip: resolving with
    pip), setuptools.build_meta,
    setuptools+pex (setuptools with pex in the build requirements) or hatch-pex (hatchling with a pex target)."""
    package = directory / "src" / "benchapp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text(
        "import click\n\n\n"
        + "".join(f"@click.command()\ndef cmd{i}():\n    click.echo('cmd{i}')\n\n\n" for i in range(1, k + 1))
    )
    requires, build_backend, table = {
        "pex_backend": ('"pex-backend"', "pex_backend", "\n[tool.pexbin]\n"),
        "pex_backend+pip": ('"pex-backend"', "pex_backend", '\n[tool.pexbin]\nresolver = "pip"\n'),
        "setuptools.build_meta": ('"setuptools>=64"', "setuptools.build_meta", ""),
        "setuptools+pex": ('"setuptools>=64", "pex>=2.60"', "setuptools.build_meta", ""),
        "hatch-pex": (
            '"hatchling"',
            "hatchling.build",
            '\n[tool.hatch.build.targets.pex]\ndependencies = ["hatch-pex"]\n',
        ),
    }[backend]
    scripts = "".join(f'cmd{i} = "benchapp.cli:cmd{i}"\n' for i in range(1, k + 1))
    (directory / "pyproject.toml").write_text(
        f'[build-system]\nrequires = [{requires}]\nbuild-backend = "{build_backend}"\n\n'
        f'[project]\nname = "benchapp"\nversion = "1.0"\nrequires-python = ">=3.9"\n'
        f"dependencies = {json.dumps(REQUIREMENTS)}\n\n[project.scripts]\n{scripts}{table}"
    )
    return directory


def edit(project: Path, counter: int) -> None:
    """Change one source file, as a developer's next build would."""
    cli = project / "src" / "benchapp" / "cli.py"
    cli.write_text(cli.read_text().split("# edit")[0] + f"# edit {counter}\n")


def failure(command: Sequence[str], code: int, output: str) -> BenchError:
    """The error of a failed command, its output's tail on stderr and its last line as the reason."""
    print(f"benchmark command failed ({code}): {' '.join(command)}\n{output[-3000:]}", file=sys.stderr, flush=True)
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("hint:")]
    errors = [line for line in lines if "error" in line.lower()] or lines
    return BenchError(f"exited {code}: {errors[-1][:160] if errors else 'no output'}")


def timed(command: Sequence[str], env: Dict[str, str], cwd: Path, log: Path) -> Tuple[float, float]:
    """Wall seconds and peak MiB of one run; BenchError if it fails."""
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", MEASURE, str(log), *command], env=env, cwd=cwd, capture_output=True, text=True
    )
    seconds = time.monotonic() - started
    if result.returncode != 0:
        raise failure(command, result.returncode, log.read_text(errors="replace") if log.exists() else result.stderr)
    return seconds, int(result.stdout.strip().splitlines()[-1]) / 1024


def run(command: Sequence[str], env: Dict[str, str], cwd: Path) -> None:
    """An untimed run (a warm-up, an install); BenchError if it fails."""
    result = subprocess.run(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        raise failure(command, result.returncode, result.stdout)


def count(directory: Path, pattern: str, k: int) -> None:
    built = sorted(p.name for p in directory.glob(pattern))
    if len(built) != k:
        raise BenchError(f"expected {k} files {pattern} in {directory.name}/, found {len(built)}: {built[:5]}")


def simple_index(wheelhouse: Path) -> str:
    """A PEP 503 index of the wheelhouse's one wheel (pex-backend's), as a file: URL."""
    (wheel,) = wheelhouse.glob("pex_backend-*.whl")
    page = wheelhouse / "simple" / "pex-backend" / "index.html"
    page.parent.mkdir(parents=True)
    page.write_text(f'<!DOCTYPE html><html><body><a href="{wheel.as_uri()}">{wheel.name}</a></body></html>\n')
    return page.parent.parent.as_uri()


def frontend_command(frontend: str, project: Path, out: Path) -> List[str]:
    if frontend == "build":
        return [sys.executable, "-m", "build", "--wheel", "-o", str(out), str(project)]
    return [sys.executable, "-m", "uv", "build", "--wheel", "-o", str(out), str(project)]


class Bench:
    def __init__(self, work: Path, repeat: int, others_repeat: int) -> None:
        self.work = work
        self.repeat = repeat
        self.others_repeat = others_repeat
        self.wheelhouse = work / "wheelhouse"
        self.logs = work / "logs"
        self.logs.mkdir(parents=True)
        run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(self.wheelhouse), str(ROOT)],
            dict(os.environ),
            ROOT,
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PEX", "PYTHONPATH"))}
        # uv keeps wheels by name and version: a cache of its own, so it takes this checkout's backend. uv finds it
        # in an index of its own, listed first, as it would find a published pex-backend in its cache of PyPI's
        # answers: through find-links uv would also ask PyPI for a name PyPI does not have, every build (an answer
        # it never caches), while it asks nothing for setuptools. pip asks every index for every requirement each
        # time, setuptools and a published pex-backend too: it keeps find-links.
        self.env.update(
            PIP_FIND_LINKS=str(self.wheelhouse), UV_INDEX=simple_index(self.wheelhouse), UV_CACHE_DIR=str(work / "uv")
        )
        self.counter = 0
        self.runs_done = 0
        self.others_venv: Optional[Path] = None
        self.others_error: Optional[BenchError] = None
        self.others_envs: Dict[str, Dict[str, str]] = {}
        self.warmed: set = set()

    def caches(self, name: str) -> Dict[str, str]:
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.work))
        return {"PEX_ROOT": str(root / "pex-root"), "PEXBIN_CACHE_DIR": str(root / "pexbin-cache")}

    def runs(
        self, command: Sequence[str], env: Dict[str, str], cwd: Path, before=None, repeat: Optional[int] = None
    ) -> Dict:
        times, peaks = [], []
        for _ in range(repeat or self.repeat):
            if before:
                before()
            self.runs_done += 1
            seconds, peak = timed(command, env, cwd, self.logs / f"run-{self.runs_done}.log")
            times.append(round(seconds, 2))
            peaks.append(peak)
        return {"median_s": round(statistics.median(times), 2), "peak_mib": round(max(peaks), 1), "times_s": times}

    @staticmethod
    def attempt(name: str, measure: Callable[..., Dict], *args) -> Dict:
        """A measurement, or {"error": reason} when it fails: the benchmark goes on."""
        try:
            return measure(*args)
        except BenchError as error:
            print(f"{name}: failed: {error}", file=sys.stderr, flush=True)
            return {"error": str(error)}

    def project(self, k: int, backend: str) -> Path:
        return generate(Path(tempfile.mkdtemp(prefix=f"k{k}-{backend}-", dir=self.work)), k, backend)

    def next_edit(self, project: Path):
        def change() -> None:
            self.counter += 1
            edit(project, self.counter)

        return change

    def frontend(self, frontend: str, k: int, pip: bool) -> Dict[str, Dict]:
        ours = self.project(k, "pex_backend")
        out = ours / "dist"
        command = frontend_command(frontend, ours, out)
        label = f"{frontend} K={k}"

        def cold(mode: str, project: Path, empty: bool) -> Dict:
            env = dict(self.env)

            def caches() -> None:
                env.update(self.caches(mode))
                if empty:
                    env.update(UV_CACHE_DIR=env["PEX_ROOT"] + "-uv", PIP_CACHE_DIR=env["PEX_ROOT"] + "-pip")
                self.next_edit(project)()

            cold_command = frontend_command(frontend, project, project / "dist")
            return self.attempt(f"{label} {mode}", lambda: self.runs(cold_command, env, project, before=caches))

        if frontend not in self.warmed:  # cold has uv's and pip's caches warm: a first build fills them
            self.warmed.add(frontend)
            self.attempt(f"{label} warm-up", run, command, {**self.env, **self.caches("warm-up")}, ours)
        results = {"cold": cold("cold", ours, False), "cold-empty": cold("cold-empty", ours, True)}
        if pip:
            results["cold-pip"] = cold("cold-pip", self.project(k, "pex_backend+pip"), False)
        warm = {**self.env, **self.caches("warm")}

        def after_an_edit() -> Dict:
            shutil.rmtree(out, ignore_errors=True)
            run(command, warm, ours)
            count(out, "*.pex", k)
            for _ in range(2):  # the proofs of splicing and of the written part: once per pex version and cache
                self.next_edit(ours)()
                run(command, warm, ours)
            return self.runs(command, warm, ours, before=self.next_edit(ours))

        results["warm"] = self.attempt(f"{label} after an edit", after_an_edit)
        results["no-change"] = self.attempt(f"{label} no-change", self.runs, command, warm, ours)
        for backend in ("setuptools.build_meta", "setuptools+pex"):
            plain = self.project(k, backend)
            name = backend.replace(".build_meta", "")
            plain_command = frontend_command(frontend, plain, plain / "dist")
            results[name] = self.attempt(f"{label} {name}", self.runs, plain_command, self.env, plain)
        return results

    def restart(self, k: int) -> Dict:
        """`pexbin run`'s restart after a save, its caches warm from its own first build."""
        project = self.project(k, "pex_backend")
        env = {**self.env, **self.caches("restart")}
        try:
            return restart.measure(project, env, self.repeat, self.logs / f"restart-k{k}.log")
        except restart.RestartError as error:
            print(f"restart K={k}: failed: {error}", file=sys.stderr, flush=True)
            return {"error": str(error)}

    def install_others(self) -> Path:
        """The venv holding shiv, hatch and hatch-pex, made once; BenchError if it cannot be."""
        if self.others_error:
            raise self.others_error
        if self.others_venv is None:
            venv = self.work / "others-venv"
            try:
                run([sys.executable, "-m", "venv", str(venv)], self.env, self.work)
                run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", *OTHERS_PACKAGES], self.env, self.work)
            except BenchError as error:
                self.others_error = BenchError(f"installing {' '.join(OTHERS_PACKAGES)}: {error}")
                raise self.others_error from None
            self.others_venv = venv
        return self.others_venv

    def other_command(self, tool: str, k: int) -> Tuple[List[str], str, str]:
        """The command a tool runs in its project for K entry points, the project's kind, and what it writes."""
        if tool == "pex-loop":
            loop = " && ".join(
                f"{sys.executable} -m pex --project . -c cmd{i} -o dist/cmd{i}.pex" for i in range(1, k + 1)
            )
            return ["sh", "-c", loop], "setuptools.build_meta", "dist/*.pex"
        bin_dir = self.install_others() / "bin"
        if tool == "shiv":
            loop = " && ".join(f"{bin_dir / 'shiv'} -c cmd{i} -o dist/cmd{i}.pyz ." for i in range(1, k + 1))
            return ["sh", "-c", f"mkdir -p dist && {loop}"], "setuptools.build_meta", "dist/*.pyz"
        return [str(bin_dir / "hatch"), "build", "-t", "pex"], "hatch-pex", "dist/pex/*.pex"

    def other(self, tool: str, k: int) -> Dict:
        """A tool's K entry points, in one project directory per tool (hatch keys its build environment by it)."""
        command, backend, pattern = self.other_command(tool, k)
        project = self.work / "others" / tool
        shutil.rmtree(project, ignore_errors=True)
        generate(project, k, backend)
        env = self.others_envs.get(tool)
        if env is None:  # caches warm from a first run, kept for every K: they share their requirements
            caches = self.work / "others-caches" / tool
            env = {
                **self.env,
                "PEX_ROOT": str(caches / "pex-root"),
                "PIP_CACHE_DIR": str(caches / "pip"),
                "HATCH_DATA_DIR": str(caches / "hatch-data"),
                "HATCH_CACHE_DIR": str(caches / "hatch-cache"),
            }
            run(command, env, project)
            self.others_envs[tool] = env
        results = self.runs(command, env, project, before=self.next_edit(project), repeat=self.others_repeat)
        parent, _, glob = pattern.rpartition("/")
        count(project / parent, glob, k)
        return results

    def others_versions(self) -> Dict[str, str]:
        try:
            python = self.install_others() / "bin" / "python"
        except BenchError:
            return {}
        script = "import importlib.metadata as m, sys; print(' '.join(m.version(p) for p in sys.argv[1:]))"
        found = subprocess.run([str(python), "-c", script, *OTHERS_PACKAGES], capture_output=True, text=True)
        return dict(zip(OTHERS_PACKAGES, found.stdout.split())) if found.returncode == 0 else {}


def load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return ""


def earlier_others(results: Dict, previous: Path) -> None:
    """With --no-others: the other tools' results of the previous results.json, kept and labelled."""
    try:
        old = json.loads(previous.read_text())
    except (OSError, ValueError):
        return
    if old.get("others"):
        results["others"] = old["others"]
        results["others_versions"] = old.get("others_versions", {})
        results["others_from"] = old.get("others_from") or "from an earlier run, not rerun with this one"


def measure(options: argparse.Namespace, others: List[str], write: Callable[[Dict], None]) -> Dict:
    started = time.monotonic()
    results: Dict = {"machine": reporting.machine(), "load": load(), "repeat": options.repeat}
    results["others_repeat"] = options.others_repeat or options.repeat
    if options.no_others:
        earlier_others(results, options.output / "results.json")
    work = Path(tempfile.mkdtemp(prefix="pexbin-bench-"))
    try:
        bench = Bench(work, options.repeat, results["others_repeat"])
        for frontend in options.frontends:
            results[frontend] = {}
        for k in options.restart_k:
            results.setdefault("restart", {})[str(k)] = bench.restart(k)
            print(f"restart K={k}: {json.dumps(results['restart'][str(k)])}", flush=True)
            write(results)
        for k in options.k:  # K by K: a run stopped early has every frontend of the K it finished
            for frontend in options.frontends:
                results[frontend][str(k)] = bench.frontend(frontend, k, k in options.pip_k)
                print(f"{frontend} K={k}: {json.dumps(results[frontend][str(k)])}", flush=True)
                write(results)
        if others:
            results["others"] = {tool: {} for tool in others}
            for tool in others:
                for k in options.others_k or options.k:
                    cell = bench.attempt(f"{OTHERS[tool]} K={k}", bench.other, tool, k)
                    results["others"][tool][str(k)] = cell
                    print(f"{OTHERS[tool]} K={k}: {json.dumps(cell)}", flush=True)
            versions = bench.others_versions() if set(others) - {"pex-loop"} else {}
            if versions:
                results["others_versions"] = versions
    finally:
        shutil.rmtree(work, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--frontends", nargs="+", choices=list(FRONTENDS), default=list(FRONTENDS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--pip-k", type=int, nargs="*", default=[5], help='the K timed cold with resolver = "pip"')
    parser.add_argument("--restart-k", type=int, nargs="*", default=[5], help="the K of pexbin run's restart")
    parser.add_argument("--others", nargs="+", choices=list(OTHERS), default=list(OTHERS), help="other tools to time")
    parser.add_argument("--no-others", action="store_true", help="time no other tool (keep the earlier results)")
    parser.add_argument("--no-loop", action="store_true", help="skip the per-entry-point pex loop")
    parser.add_argument("--others-k", type=int, nargs="+", help="the K of the other tools (default: --k)")
    parser.add_argument(
        "--others-repeat", "--loop-repeat", type=int, dest="others_repeat", help="their repeats (default: --repeat)"
    )
    parser.add_argument("--output", type=Path, default=HERE, help="where results.md and results.json go")
    parser.add_argument(
        "--chart", type=Path, help=f"the chart (default: {CHART.relative_to(ROOT)}, or OUTPUT/speed.svg with --output)"
    )
    parser.add_argument("--doc", type=Path, help="the page with the results markers (default: docs/speed.md or README)")
    parser.add_argument("--no-readme", action="store_true", help="leave the page's results as they are")
    parser.add_argument("--from-json", type=Path, help="measure nothing: render this results.json")
    options = parser.parse_args(argv)
    others = [] if options.no_others else [t for t in options.others if not (options.no_loop and t == "pex-loop")]
    chart_path = options.chart or (CHART if options.output.resolve() == HERE else options.output / "speed.svg")
    options.output.mkdir(parents=True, exist_ok=True)

    def write(results: Dict) -> None:
        (options.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")

    if options.from_json:
        results = json.loads(options.from_json.read_text())
        options.frontends = [f for f in FRONTENDS if f in results]
        options.k = sorted({int(k) for f in options.frontends for k in results[f]})
    else:
        results = measure(options, others, write)
    table = reporting.report(results, options.k, options.frontends)
    print(table)
    (options.output / "results.md").write_text(table)
    write(results)
    drawn = reporting.chart(results, options.frontends, chart_path)
    if drawn:
        print(f"chart: {chart_path}")
    ours_failed = [
        f"{frontend} K={k} {mode}"
        for frontend in options.frontends
        for k, cell in results[frontend].items()
        for mode in MODES
        if "error" in cell.get(mode, {})
    ]
    page = options.doc or reporting.default_doc()
    if not options.no_readme:
        if ours_failed:
            print(f"{page} not rewritten: some builds failed", file=sys.stderr)
        else:
            inside = drawn and chart_path.resolve().is_relative_to(ROOT)
            image = Path(os.path.relpath(chart_path.resolve(), page.resolve().parent)) if inside else None
            if reporting.write_doc(page, table, image):
                print(f"results written into {page}")
    print(f"the benchmark took {results.get('elapsed_s')} s")
    if ours_failed:
        sys.exit(f"failed: {', '.join(ours_failed)}")


if __name__ == "__main__":
    main()
