"""Benchmark: pex-backend against plain setuptools and other PEX and zipapp builders, for K entry points.

    python bench/run.py [--k 1 5 10 20] [--frontends build uv] [--repeat 3]
                        [--others-k 1 5] [--others-repeat N] [--others pex-loop shiv hatch-pex] [--no-others]
                        [--output DIR] [--chart PATH] [--no-readme]

Run it from an environment holding `build`, `uv` and `pex` (`pip install ".[test,bench]"`; matplotlib, from the
`bench` extra, draws the chart). For every K it generates a project with K console scripts depending on click, rich
and requests, and times, through each frontend (`python -m build --wheel`, `uv build --wheel`):

- cold:           empty PEX_ROOT and empty pex-backend build cache;
- after an edit:  both caches warm, one source file edited before each build (so the wheel and every PEX change);
- no-change:      the same sources built again (the build cache serves every PEX);
- setuptools:     the same project with `build-backend = "setuptools.build_meta"` and no table;
- setuptools+pex: the same, with pex also installed into the build environment (the floor of any build that
                  runs pex there).

Then, frontend-independent and for each K of --others-k, other tools, each with its own warm caches and one
source edit before each run (a tool that does not install or run is recorded as "-" with the reason):

- pex loop:   `pex --project . -c NAME -o NAME.pex` once per entry point;
- shiv:       `shiv -c NAME -o NAME.pyz .` once per entry point, pip's cache warm;
- hatch-pex:  `hatch build -t pex` on a hatchling variant of the project with `[tool.hatch.build.targets.pex]`.

shiv, hatch and hatch-pex are installed from the index into a venv of their own under the work directory.

Each cell is the median wall time of the repeats and the peak resident memory of the largest process. The results
go to stdout, to OUTPUT/results.md (Markdown tables with the machine it ran on, and the targets met or not) and
OUTPUT/results.json; the chart (seconds against K) to --chart; and results.md with the chart's image into
README.md between its `<!-- bench results -->` markers (unless --no-readme).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
CHART = ROOT / "docs" / "speed.svg"
README = ROOT / "README.md"
README_START, README_END = "<!-- bench results -->", "<!-- end bench results -->"
REQUIREMENTS = ["click", "rich", "requests"]
FRONTENDS = {"build": "python -m build --wheel", "uv": "uv build --wheel"}
MODES = ["cold", "warm", "no-change", "setuptools", "setuptools+pex"]
OTHERS = {"pex-loop": "pex loop", "shiv": "shiv", "hatch-pex": "hatch-pex"}
OTHERS_PACKAGES = ["shiv", "hatch", "hatch-pex"]
# The targets reported against: seconds per entry point beyond the first after an edit; after an edit at K=5 over
# setuptools; no change over setuptools, at every K.
PER_ENTRY_POINT_S = 0.05
EDIT_RATIO_K5 = 1.6
NO_CHANGE_RATIO = 1.15
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
    """A project with K console scripts; `backend` is pex_backend (with a table), setuptools.build_meta,
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
        # uv keeps wheels by name and version: a cache of its own, so it takes this checkout's backend.
        self.env.update(
            PIP_FIND_LINKS=str(self.wheelhouse), UV_FIND_LINKS=str(self.wheelhouse), UV_CACHE_DIR=str(work / "uv")
        )
        self.counter = 0
        self.runs_done = 0
        self.others_venv: Optional[Path] = None
        self.others_error: Optional[BenchError] = None
        self.others_envs: Dict[str, Dict[str, str]] = {}

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

    def frontend(self, frontend: str, k: int) -> Dict[str, Dict]:
        ours = self.project(k, "pex_backend")
        out = ours / "dist"
        command = frontend_command(frontend, ours, out)
        label = f"{frontend} K={k}"
        cold = dict(self.env)

        def cold_caches() -> None:
            cold.update(self.caches("cold"))
            self.next_edit(ours)()

        results = {"cold": self.attempt(f"{label} cold", lambda: self.runs(command, cold, ours, before=cold_caches))}
        warm = {**self.env, **self.caches("warm")}

        def after_an_edit() -> Dict:
            shutil.rmtree(out, ignore_errors=True)
            run(command, warm, ours)
            count(out, "*.pex", k)
            return self.runs(command, warm, ours, before=self.next_edit(ours))

        results["warm"] = self.attempt(f"{label} after an edit", after_an_edit)
        results["no-change"] = self.attempt(f"{label} no-change", self.runs, command, warm, ours)
        for backend in ("setuptools.build_meta", "setuptools+pex"):
            plain = self.project(k, backend)
            name = backend.replace(".build_meta", "")
            plain_command = frontend_command(frontend, plain, plain / "dist")
            results[name] = self.attempt(f"{label} {name}", self.runs, plain_command, self.env, plain)
        return results

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


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    pex = subprocess.run([sys.executable, "-m", "pex", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, pex {pex}"
    )


def seconds(cell: Optional[Dict]) -> Optional[float]:
    return cell.get("median_s") if cell else None


def show(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:g}"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a is not None and b else None


def targets(results: Dict, frontends: Sequence[str]) -> List[str]:
    """The targets table: per entry point beyond the first after an edit, after an edit / setuptools at K=5,
    no change / setuptools at every K."""
    lines = ["| target | frontend | measured | met |", "|---|---|---|---|"]

    def met(ok: Optional[bool]) -> str:
        return "-" if ok is None else "met" if ok else "not met"

    for frontend in frontends:
        by_k = {int(k): v for k, v in results[frontend].items()}
        warm = {k: seconds(v["warm"]) for k, v in by_k.items() if seconds(v["warm"]) is not None}
        if len(warm) > 1:
            first, last = min(warm), max(warm)
            per_entry = round((warm[last] - warm[first]) / (last - first), 3)
            measured, ok = f"{per_entry:.3f} s (K={first}..{last})", per_entry <= PER_ENTRY_POINT_S
        else:
            measured, ok = "needs two K", None
        lines.append(
            f"| per entry point beyond the first, after an edit ≤ {PER_ENTRY_POINT_S} s | {frontend} | {measured} "
            f"| {met(ok)} |"
        )
        five = by_k.get(5)
        edit_ratio = ratio(seconds(five["warm"]), seconds(five["setuptools"])) if five else None
        measured = "K=5 not measured" if five is None else show(edit_ratio)
        ok = None if edit_ratio is None else edit_ratio <= EDIT_RATIO_K5
        lines.append(f"| after an edit / setuptools, K=5 ≤ {EDIT_RATIO_K5} | {frontend} | {measured} | {met(ok)} |")
        no_change = {k: ratio(seconds(v["no-change"]), seconds(v["setuptools"])) for k, v in sorted(by_k.items())}
        measured = ", ".join(f"K={k}: {show(r)}" for k, r in no_change.items())
        known = [r for r in no_change.values() if r is not None]
        ok = None if not known else all(r <= NO_CHANGE_RATIO for r in known) and len(known) == len(no_change)
        lines.append(f"| no change / setuptools, every K ≤ {NO_CHANGE_RATIO} | {frontend} | {measured} | {met(ok)} |")
    return lines


def report(results: Dict, ks: Sequence[int], frontends: Sequence[str]) -> str:
    elapsed = results.get("elapsed_s", 0)
    took = f"{elapsed / 60:.0f} min" if elapsed >= 120 else f"{elapsed} s"
    lines = [
        f"Machine: {results['machine']}. Median of {results['repeat']} runs (other tools: "
        f"{results['others_repeat']}); peak = resident memory of the largest process; the run took {took}.",
        "",
        "| frontend | K | cold s | after an edit s | no-change s | setuptools s | setuptools+pex s | "
        "peak MiB (after an edit) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    failures = []
    for frontend in frontends:
        for k in ks:
            cell = results[frontend][str(k)]
            failures += [f"{frontend} K={k} {mode}: {cell[mode]['error']}" for mode in MODES if "error" in cell[mode]]
            row = " | ".join(show(seconds(cell[mode])) for mode in MODES)
            lines.append(f"| {frontend} | {k} | {row} | {show(cell['warm'].get('peak_mib'))} |")
    others = results.get("others", {})
    if others:
        versions = results.get("others_versions", {})
        named = ", ".join(f"{name} {version}" for name, version in versions.items())
        lines += [
            "",
            "Other tools, through no frontend, caches warm, one source edit before each run"
            + (f" ({named})" if named else "")
            + ":",
            "",
            "| K | "
            + " | ".join(f"pex-backend after an edit ({frontend}) s" for frontend in frontends)
            + " | "
            + " | ".join(f"{OTHERS[tool]} s" for tool in others)
            + " |",
            "|---|" + "---|" * (len(frontends) + len(others)),
        ]
        other_ks = sorted({int(k) for by_k in others.values() for k in by_k})
        for k in other_ks:
            ours = [show(seconds(results[f].get(str(k), {}).get("warm"))) for f in frontends]
            theirs = []
            for tool, by_k in others.items():
                cell = by_k.get(str(k))
                if cell and "error" in cell:
                    failures.append(f"{OTHERS[tool]} K={k}: {cell['error']}")
                theirs.append(show(seconds(cell)))
            lines.append(f"| {k} | " + " | ".join(ours + theirs) + " |")
    lines += ["", "Targets:", "", *targets(results, frontends)]
    if failures:
        lines += ["", "Not measured (-):", ""] + [f"- {line}" for line in failures]
    return "\n".join(lines) + "\n"


def chart(results: Dict, frontends: Sequence[str], path: Path) -> bool:
    """Seconds against K, one panel per frontend; False when matplotlib is not installed."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter
    except ImportError:
        print("matplotlib is not installed (pip install '.[bench]'): no chart", file=sys.stderr)
        return False
    plt.rcParams.update({"svg.hashsalt": "pex-backend-bench", "font.size": 9})

    def points(by_k: Dict, mode: Optional[str]) -> Tuple[List[int], List[float]]:
        cells = sorted((int(k), v[mode] if mode else v) for k, v in by_k.items())
        found = [(k, seconds(cell)) for k, cell in cells if seconds(cell) is not None]
        return [k for k, _ in found], [s for _, s in found]

    lines = [
        ("pex-backend, after an edit", None, "warm", "-o", "C0"),
        ("pex-backend, no change", None, "no-change", "-s", "C2"),
        ("setuptools, wheel only", None, "setuptools", "--^", "C7"),
    ] + [
        (f"{OTHERS[tool]} (no frontend)", tool, None, ":" + marker, color)
        for tool, marker, color in (("pex-loop", "v", "C3"), ("shiv", "D", "C1"), ("hatch-pex", "P", "C4"))
        if tool in results.get("others", {})
    ]
    series = [results[frontend] for frontend in frontends] + list(results.get("others", {}).values())
    ks = sorted({int(k) for by_k in series for k in by_k})
    figure, axes = plt.subplots(1, len(frontends), figsize=(4.2 * len(frontends) + 0.6, 3.6), sharey=True)
    axes = list(axes) if len(frontends) > 1 else [axes]
    for ax, frontend in zip(axes, frontends):
        for label, tool, mode, style, color in lines:
            xs, ys = points(results["others"][tool] if tool else results[frontend], mode)
            if xs:
                ax.plot(xs, ys, style, color=color, label=label, markersize=4)
        ax.set_title(FRONTENDS[frontend])
        ax.set_xlabel("entry points (K)")
        ax.set_xticks(ks)
        ax.set_yscale("log")
        ax.yaxis.set_major_locator(LogLocator(subs=(1, 2, 5)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds (log scale)")
    axes[-1].legend(loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, format="svg", metadata={"Date": None})
    plt.close(figure)
    return True


def write_readme(readme: Path, table: str, image: Optional[Path]) -> bool:
    """Rewrite README.md between its bench-results markers: the chart's image, then the results table."""
    text = readme.read_text()
    start, end = text.find(README_START), text.find(README_END)
    if start < 0 or end < start:
        print(f"{readme}: no {README_START} ... {README_END} markers: not rewritten", file=sys.stderr)
        return False
    block = "\n"
    if image is not None:
        block += f"![seconds against entry points]({image.as_posix()})\n\n"
    updated = text[: start + len(README_START)] + block + table + text[end:]
    if updated != text:
        readme.write_text(updated)
    return True


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--frontends", nargs="+", choices=list(FRONTENDS), default=list(FRONTENDS))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--others", nargs="+", choices=list(OTHERS), default=list(OTHERS), help="other tools to time")
    parser.add_argument("--no-others", action="store_true", help="time no other tool")
    parser.add_argument("--no-loop", action="store_true", help="skip the per-entry-point pex loop")
    parser.add_argument("--others-k", type=int, nargs="+", help="the K of the other tools (default: --k)")
    parser.add_argument(
        "--others-repeat", "--loop-repeat", type=int, dest="others_repeat", help="their repeats (default: --repeat)"
    )
    parser.add_argument("--output", type=Path, default=HERE, help="where results.md and results.json go")
    parser.add_argument(
        "--chart", type=Path, help=f"the chart (default: {CHART.relative_to(ROOT)}, or OUTPUT/speed.svg with --output)"
    )
    parser.add_argument("--no-readme", action="store_true", help="leave README.md's results as they are")
    options = parser.parse_args(argv)
    others = [] if options.no_others else [t for t in options.others if not (options.no_loop and t == "pex-loop")]
    others_repeat = options.others_repeat or options.repeat
    chart_path = options.chart or (CHART if options.output.resolve() == HERE else options.output / "speed.svg")

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="pexbin-bench-"))
    try:
        bench = Bench(work, options.repeat, others_repeat)
        results: Dict = {"machine": machine(), "repeat": options.repeat, "others_repeat": others_repeat}
        for frontend in options.frontends:
            results[frontend] = {}
            for k in options.k:
                results[frontend][str(k)] = bench.frontend(frontend, k)
                print(f"{frontend} K={k}: {json.dumps(results[frontend][str(k)])}", flush=True)
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
    table = report(results, options.k, options.frontends)
    print(table)
    options.output.mkdir(parents=True, exist_ok=True)
    (options.output / "results.md").write_text(table)
    (options.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    drawn = chart(results, options.frontends, chart_path)
    if drawn:
        print(f"chart: {chart_path}")
    ours_failed = [
        f"{frontend} K={k} {mode}"
        for frontend in options.frontends
        for k, cell in results[frontend].items()
        for mode in MODES
        if "error" in cell[mode]
    ]
    if not options.no_readme:
        if ours_failed:
            print("README.md not rewritten: some builds failed", file=sys.stderr)
        else:
            inside = drawn and chart_path.resolve().is_relative_to(ROOT)
            image = chart_path.resolve().relative_to(ROOT) if inside else None
            if write_readme(README, table, image):
                print(f"results written into {README}")
    print(f"the benchmark took {results['elapsed_s']} s")
    if ours_failed:
        sys.exit(f"failed: {', '.join(ours_failed)}")


if __name__ == "__main__":
    main()
