"""Benchmark: pex-backend against plain setuptools and a per-entry-point `pex` loop, for K entry points.

    python bench/run.py [--k 1 5 10 20] [--frontends build uv] [--repeat 3] [--loop-repeat N] [--no-loop]

Run it from an environment holding `build`, `uv` and `pex` (`pip install ".[test]"`). For every K it generates a
project with K console scripts depending on click, rich and requests, and times, through each frontend:

- cold:       empty PEX_ROOT and empty pex-backend build cache;
- warm:       both caches warm, one source file edited before each build (so the wheel and every PEX change);
- no-change:  the same sources built again (the build cache serves every PEX);
- setuptools: the same project with `build-backend = "setuptools.build_meta"` and no table;
- setuptools+pex: the same, with pex also installed into the build environment (the floor of any build that
  runs pex there);
- pex loop:   `pex --project DIR -c NAME -o NAME.pex` once per entry point, PEX_ROOT warm (frontend-independent).

Each cell is the median wall time of the repeats and the peak resident memory of the largest process. The results
go to stdout and to bench/results.md (a Markdown table with the machine it ran on) and bench/results.json.
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
from typing import Dict, List, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
REQUIREMENTS = ["click", "rich", "requests"]
# Runs a command and prints the peak resident memory (KiB on Linux) of the largest process it started.
MEASURE = (
    "import resource, subprocess, sys\n"
    "code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode\n"
    "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    "sys.exit(code)\n"
)


def generate(directory: Path, k: int, backend: str) -> Path:
    """A project with K console scripts; `backend` is pex_backend (with a table) or setuptools.build_meta."""
    package = directory / "src" / "benchapp"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "cli.py").write_text(
        "import click\n\n\n"
        + "".join(f"@click.command()\ndef cmd{i}():\n    click.echo('cmd{i}')\n\n\n" for i in range(1, k + 1))
    )
    requires = {
        "pex_backend": '"pex-backend"',
        "setuptools.build_meta": '"setuptools>=64"',
        "setuptools+pex": '"setuptools>=64", "pex>=2.60"',
    }[backend]
    backend = backend.replace("setuptools+pex", "setuptools.build_meta")
    table = "\n[tool.pexbin]\n" if backend == "pex_backend" else ""
    scripts = "".join(f'cmd{i} = "benchapp.cli:cmd{i}"\n' for i in range(1, k + 1))
    (directory / "pyproject.toml").write_text(
        f'[build-system]\nrequires = [{requires}]\nbuild-backend = "{backend}"\n\n'
        f'[project]\nname = "benchapp"\nversion = "1.0"\nrequires-python = ">=3.9"\n'
        f"dependencies = {json.dumps(REQUIREMENTS)}\n\n[project.scripts]\n{scripts}{table}"
    )
    return directory


def edit(project: Path, counter: int) -> None:
    """Change one source file, as a developer's next build would."""
    cli = project / "src" / "benchapp" / "cli.py"
    cli.write_text(cli.read_text().split("# edit")[0] + f"# edit {counter}\n")


def timed(command: Sequence[str], env: Dict[str, str], cwd: Path) -> Tuple[float, float]:
    """Wall seconds and peak MiB of one run; a failed run stops the benchmark with its output."""
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-c", MEASURE, *command], env=env, cwd=cwd, capture_output=True, text=True)
    seconds = time.monotonic() - started
    if result.returncode != 0:
        rerun = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True)
        sys.exit(f"benchmark command failed: {' '.join(command)}\n{rerun.stdout[-3000:]}\n{rerun.stderr[-3000:]}")
    return seconds, int(result.stdout.strip().splitlines()[-1]) / 1024


def frontend_command(frontend: str, project: Path, out: Path) -> List[str]:
    if frontend == "build":
        return [sys.executable, "-m", "build", "-o", str(out), str(project)]
    return [sys.executable, "-m", "uv", "build", "-q", "-o", str(out), str(project)]


class Bench:
    def __init__(self, work: Path, repeat: int) -> None:
        self.work = work
        self.repeat = repeat
        self.wheelhouse = work / "wheelhouse"
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(self.wheelhouse), str(ROOT)],
            check=True,
        )
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("PEX", "PYTHONPATH"))}
        # uv keeps wheels by name and version: a cache of its own, so it takes this checkout's backend.
        self.env.update(
            PIP_FIND_LINKS=str(self.wheelhouse), UV_FIND_LINKS=str(self.wheelhouse), UV_CACHE_DIR=str(work / "uv")
        )
        self.counter = 0
        self.loop_env: Dict[str, str] | None = None

    def caches(self, name: str) -> Dict[str, str]:
        root = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.work))
        return {"PEX_ROOT": str(root / "pex-root"), "PEXBIN_CACHE_DIR": str(root / "pexbin-cache")}

    def runs(self, command: Sequence[str], env: Dict[str, str], project: Path, before=None) -> Dict[str, float]:
        times, peaks = [], []
        for _ in range(self.repeat):
            if before:
                before()
            seconds, peak = timed(command, env, project)
            times.append(seconds)
            peaks.append(peak)
        return {"median_s": round(statistics.median(times), 2), "peak_mib": round(max(peaks), 1)}

    def project(self, k: int, backend: str) -> Path:
        return generate(Path(tempfile.mkdtemp(prefix=f"k{k}-{backend}-", dir=self.work)), k, backend)

    def next_edit(self, project: Path):
        def change() -> None:
            self.counter += 1
            edit(project, self.counter)

        return change

    def frontend(self, frontend: str, k: int) -> Dict[str, Dict[str, float]]:
        ours = self.project(k, "pex_backend")
        out = ours / "dist"
        command = frontend_command(frontend, ours, out)

        def cold_env() -> None:
            cold.update(self.caches("cold"))

        cold = dict(self.env)
        results = {"cold": self.runs(command, cold, ours, before=lambda: (cold_env(), self.next_edit(ours)()))}
        warm = {**self.env, **self.caches("warm")}
        subprocess.run(command, env=warm, cwd=ours, capture_output=True, check=True)
        results["warm"] = self.runs(command, warm, ours, before=self.next_edit(ours))
        results["no-change"] = self.runs(command, warm, ours)
        built = sorted(p.name for p in out.glob("*.pex"))
        assert len(built) == k, f"expected {k} PEX files, found {built}"
        plain = self.project(k, "setuptools.build_meta")
        results["setuptools"] = self.runs(frontend_command(frontend, plain, plain / "dist"), self.env, plain)
        # The floor of a build that needs pex: setuptools with pex installed into the build environment too.
        floor = self.project(k, "setuptools+pex")
        results["setuptools+pex"] = self.runs(frontend_command(frontend, floor, floor / "dist"), self.env, floor)
        return results

    def pex_loop(self, k: int, repeat: int) -> Dict[str, float]:
        project = self.project(k, "setuptools.build_meta")
        script = "; ".join(f"{sys.executable} -m pex --project . -c cmd{i} -o dist/cmd{i}.pex" for i in range(1, k + 1))
        if self.loop_env is None:  # one warm PEX_ROOT for every K: they share their requirements
            self.loop_env = {**self.env, **self.caches("loop")}
            subprocess.run(["sh", "-c", script], env=self.loop_env, cwd=project, capture_output=True, check=True)
        times = [timed(["sh", "-c", script], self.loop_env, project) for _ in range(repeat)]
        return {
            "median_s": round(statistics.median(t for t, _ in times), 2),
            "peak_mib": round(max(p for _, p in times), 1),
        }


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


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "-"


def report(results: Dict, ks: Sequence[int], frontends: Sequence[str], repeat: int) -> str:
    lines = [
        f"Machine: {results['machine']}. Median of {repeat} runs (pex loop: {results['loop_repeat']}); "
        "peak = resident memory of the largest process.",
        "",
        "| frontend | K | cold s | warm s | no-change s | setuptools s | setuptools+pex s | pex loop s | "
        "peak MiB (warm) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    loop = results.get("pex loop", {})
    for frontend in frontends:
        for k in ks:
            cell = results[frontend][str(k)]
            loop_s = loop.get(str(k), {}).get("median_s", "-")
            lines.append(
                f"| {frontend} | {k} | {cell['cold']['median_s']} | {cell['warm']['median_s']} | "
                f"{cell['no-change']['median_s']} | {cell['setuptools']['median_s']} | "
                f"{cell['setuptools+pex']['median_s']} | {loop_s} | "
                f"{cell['warm']['peak_mib']} |"
            )
    lines += [
        "",
        "| frontend | per extra entry point, warm (s) | K=10 / K=1, warm | pex loop / ours, K=5 warm | "
        "no-change / setuptools |",
        "|---|---|---|---|---|",
    ]
    for frontend in frontends:
        by_k = results[frontend]
        warm = {int(k): v["warm"]["median_s"] for k, v in by_k.items()}
        first, last = min(warm), max(warm)
        per_extra = (warm[last] - warm[first]) / (last - first) if last > first else 0.0
        ten = ratio(warm[10], warm[1]) if 10 in warm and 1 in warm else "-"
        five = ratio(loop["5"]["median_s"], warm[5]) if "5" in loop and 5 in warm else "-"
        no_change = ", ".join(
            f"K={k}: {ratio(v['no-change']['median_s'], v['setuptools']['median_s'])}" for k, v in by_k.items()
        )
        lines.append(f"| {frontend} | {per_extra:.2f} (K={first}..{last}) | {ten} | {five} | {no_change} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--frontends", nargs="+", choices=["build", "uv"], default=["build", "uv"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-loop", action="store_true", help="skip the per-entry-point pex loop")
    parser.add_argument("--loop-repeat", type=int, help="repeats of the pex loop (default: --repeat)")
    parser.add_argument("--output", type=Path, default=HERE, help="where results.md and results.json go")
    options = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="pexbin-bench-"))
    try:
        bench = Bench(work, options.repeat)
        results: Dict = {
            "machine": machine(),
            "repeat": options.repeat,
            "loop_repeat": options.loop_repeat or options.repeat,
        }
        for frontend in options.frontends:
            results[frontend] = {}
            for k in options.k:
                results[frontend][str(k)] = bench.frontend(frontend, k)
                print(f"{frontend} K={k}: {json.dumps(results[frontend][str(k)])}", flush=True)
        if not options.no_loop:
            results["pex loop"] = {}
            for k in options.k:
                results["pex loop"][str(k)] = bench.pex_loop(k, options.loop_repeat or options.repeat)
                print(f"pex loop K={k}: {json.dumps(results['pex loop'][str(k)])}", flush=True)
        table = report(results, options.k, options.frontends, options.repeat)
        print(table)
        options.output.mkdir(parents=True, exist_ok=True)
        (options.output / "results.md").write_text(table)
        (options.output / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
