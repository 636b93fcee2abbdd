"""The build cache's growth over edits: the benchmark's project with K console scripts, built through
`uv build --wheel` once and then after each of N source edits, with a cache of its own; prints the cache's size per
kind after the first build and after the last edit.

    python bench/cache_growth.py [--k 20] [--edits 20] [--backend-source DIR]

`--backend-source` builds the backend from another tree (a `git archive` of an older commit, to compare).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Tuple

from run import ROOT, edit, generate

from pex_backend.backend.compose.built import describe_size
from pex_backend.pex.prune import usage


def sizes(cache: Path) -> Tuple[int, List[str]]:
    rows = [(kind, count, size) for kind, count, size in usage(cache) if count]
    return sum(size for *_, size in rows), [f"{kind} {count} ({describe_size(size)})" for kind, count, size in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=20)
    parser.add_argument("--edits", type=int, default=20)
    parser.add_argument("--backend-source", type=Path, default=ROOT)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="cache-growth-"))
    wheelhouse, cache = work / "wheelhouse", work / "pexbin-cache"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", wheelhouse, args.backend_source], check=True
    )
    env: Dict[str, str] = {k: v for k, v in os.environ.items() if not k.startswith(("PEX", "PYTHONPATH"))}
    env.update(
        UV_FIND_LINKS=str(wheelhouse),
        UV_CACHE_DIR=str(work / "uv"),
        PEX_ROOT=str(work / "pex-root"),
        PEXBIN_CACHE_DIR=str(cache),
    )
    project = generate(work / "project", args.k, "pex_backend")
    build = [sys.executable, "-m", "uv", "build", "--wheel", "-o", str(work / "dist"), str(project)]
    for counter in range(args.edits + 1):
        if counter:
            edit(project, counter)
        subprocess.run(build, env=env, check=True, capture_output=True)
        total, kinds = sizes(cache)
        print(f"{'first build' if counter == 0 else f'edit {counter}'}: {describe_size(total)}: {', '.join(kinds)}")
        if counter == 0:
            first = total
    print(f"after {args.edits} edits: {total / first:.2f}x the size after the first build ({work})")


if __name__ == "__main__":
    main()
