"""The benchmark's report: the Markdown tables with the targets met or not, the chart, and the results block
rewritten between the `<!-- bench results -->` markers of a page (docs/speed.md, or README.md where they are)."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- bench results -->", "<!-- end bench results -->"
FRONTENDS = {"build": "python -m build --wheel", "uv": "uv build --wheel"}
MODES = {
    "cold": "cold s",
    "cold-empty": "cold, every cache empty s",
    "cold-pip": 'cold, `resolver = "pip"` s',
    "warm": "after an edit s",
    "no-change": "no-change s",
    "setuptools": "setuptools s",
    "setuptools+pex": "setuptools+pex s",
}
OTHERS = {"pex-loop": "pex loop", "shiv": "shiv", "hatch-pex": "hatch-pex"}
# The targets (issues 30 and 32): a cold build at K=5 over setuptools; seconds per entry point beyond the first
# after an edit; after an edit at K=1 and K=5 over setuptools; no change over setuptools, at every K.
COLD_RATIO_K5 = 2.5
PER_ENTRY_POINT_S = 0.05
EDIT_RATIO = 1.5
EDIT_KS = (1, 5)
NO_CHANGE_RATIO = 1.1


def default_doc() -> Path:
    """The page holding the results markers: docs/speed.md, else README.md."""
    for page in (ROOT / "docs" / "speed.md", ROOT / "README.md"):
        if page.exists() and START in page.read_text():
            return page
    return ROOT / "README.md"


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
    uv = subprocess.run([sys.executable, "-m", "uv", "--version"], capture_output=True, text=True).stdout.split()
    return (
        f"{os.cpu_count()} cores ({cpu}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, pex {pex}, uv {uv[1] if len(uv) > 1 else '?'}"
    )


def seconds(cell: Optional[Dict]) -> Optional[float]:
    return cell.get("median_s") if cell else None


def show(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:g}"


def ratio(a: Optional[float], b: Optional[float]) -> Optional[float]:
    return round(a / b, 2) if a is not None and b else None


def ratios(cell: Dict, mode: str) -> Optional[float]:
    return ratio(seconds(cell.get(mode)), seconds(cell.get("setuptools")))


def met(ok: Optional[bool]) -> str:
    return "-" if ok is None else "met" if ok else "not met"


def targets(results: Dict, frontends: Sequence[str]) -> List[str]:
    """The targets table, per frontend."""
    lines = ["| target | frontend | measured | met |", "|---|---|---|---|"]

    def under(name: str, frontend: str, mode: str, ks: Sequence[int], limit: float, by_k: Dict) -> None:
        found = {k: ratios(by_k[k], mode) for k in ks if k in by_k}
        measured = ", ".join(f"K={k}: {show(r)}" for k, r in found.items()) or "not measured"
        known = [r for r in found.values() if r is not None]
        ok = None if not known else len(known) == len(found) and all(r <= limit for r in known)
        lines.append(f"| {name} ≤ {limit} | {frontend} | {measured} | {met(ok)} |")

    for frontend in frontends:
        by_k = {int(k): v for k, v in results[frontend].items()}
        under("cold / setuptools, K=5", frontend, "cold", [5], COLD_RATIO_K5, by_k)
        warm = {k: seconds(v.get("warm")) for k, v in by_k.items() if seconds(v.get("warm")) is not None}
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
        under("after an edit / setuptools, K=1 and 5", frontend, "warm", EDIT_KS, EDIT_RATIO, by_k)
        under("no change / setuptools, every K", frontend, "no-change", sorted(by_k), NO_CHANGE_RATIO, by_k)
    return lines


def restart_lines(restart: Dict) -> List[str]:
    """The `pexbin run` restart table: seconds from saving a source file to the new program's first output."""
    lines = [
        "`pexbin run` restarting: seconds from saving a source file to the restarted program's first output "
        "(caches warm; the watcher looks every 0.25 s):",
        "",
        "| K | median s | runs s |",
        "|---|---|---|",
    ]
    for k, cell in sorted(restart.items(), key=lambda item: int(item[0])):
        runs = ", ".join(f"{t:g}" for t in cell.get("times_s", [])) or cell.get("error", "-")
        lines.append(f"| {k} | {show(seconds(cell))} | {runs} |")
    return lines


def others_lines(results: Dict, frontends: Sequence[str], failures: List[str]) -> List[str]:
    others = results.get("others", {})
    versions = results.get("others_versions", {})
    named = ", ".join(f"{name} {version}" for name, version in versions.items())
    earlier = results.get("others_from")
    lines = [
        "",
        "Other tools, through no frontend, caches warm, one source edit before each run"
        + (f" ({named})" if named else "")
        + (f"; {earlier}" if earlier else "")
        + ":",
        "",
        "| K | "
        + " | ".join(f"pex-backend after an edit ({frontend}) s" for frontend in frontends)
        + " | "
        + " | ".join(f"{OTHERS[tool]} s" for tool in others)
        + " |",
        "|---|" + "---|" * (len(frontends) + len(others)),
    ]
    for k in sorted({int(k) for by_k in others.values() for k in by_k}):
        ours = [show(seconds(results[f].get(str(k), {}).get("warm"))) for f in frontends]
        theirs = []
        for tool, by_k in others.items():
            cell = by_k.get(str(k))
            if cell and "error" in cell:
                failures.append(f"{OTHERS[tool]} K={k}: {cell['error']}")
            theirs.append(show(seconds(cell)))
        lines.append(f"| {k} | " + " | ".join(ours + theirs) + " |")
    return lines


def report(results: Dict, ks: Sequence[int], frontends: Sequence[str]) -> str:
    elapsed = results.get("elapsed_s", 0)
    took = f"{elapsed / 60:.0f} min" if elapsed >= 120 else f"{elapsed} s"
    load = f", load average {results['load']} at its start" if results.get("load") else ""
    modes = [mode for mode in MODES if any(mode in results[f].get(str(k), {}) for f in frontends for k in ks)]
    lines = [
        f"Machine: {results['machine']}{load}. Median of {results['repeat']} runs (other tools: "
        f"{results['others_repeat']}); peak = resident memory of the largest process; the run took {took}. "
        "Cold: empty pex-backend build cache and PEX_ROOT, uv's and pip's caches warm; every cache empty: uv's "
        "and pip's too." + (f" The run was {results['stopped']}." if results.get("stopped") else ""),
        "",
        "| frontend | K | " + " | ".join(MODES[m] for m in modes) + " | cold / setuptools | after an edit / "
        "setuptools | no-change / setuptools | peak MiB (after an edit) |",
        "|---|---|" + "---|" * (len(modes) + 4),
    ]
    failures: List[str] = []
    for frontend in frontends:
        for k in ks:
            cell = results[frontend].get(str(k))
            if cell is None:
                continue
            failures += [
                f"{frontend} K={k} {mode}: {cell[mode]['error']}" for mode in modes if "error" in cell.get(mode, {})
            ]
            row = [show(seconds(cell.get(mode))) for mode in modes]
            row += [show(ratios(cell, mode)) for mode in ("cold", "warm", "no-change")]
            lines.append(f"| {frontend} | {k} | " + " | ".join(row) + f" | {show(cell['warm'].get('peak_mib'))} |")
    if results.get("restart"):
        lines += ["", *restart_lines(results["restart"])]
    if results.get("others"):
        lines += others_lines(results, frontends, failures)
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
        cells = sorted((int(k), v.get(mode) if mode else v) for k, v in by_k.items())
        found = [(k, seconds(cell)) for k, cell in cells if seconds(cell) is not None]
        return [k for k, _ in found], [s for _, s in found]

    lines = [
        ("pex-backend, cold, every cache empty", None, "cold-empty", "-x", "C5"),
        ("pex-backend, cold (uv resolving)", None, "cold", "-^", "C9"),
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


def write_doc(page: Path, table: str, image: Optional[Path]) -> bool:
    """Rewrite the page between its bench-results markers: the chart's image, then the results table."""
    text = page.read_text()
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        print(f"{page}: no {START} ... {END} markers: not rewritten", file=sys.stderr)
        return False
    block = "\n"
    if image is not None:
        block += f"![seconds against entry points]({image.as_posix()})\n\n"
    updated = text[: start + len(START)] + block + table + text[end:]
    if updated != text:
        page.write_text(updated)
    return True
