"""`PEXBIN_TIMINGS=1`: each step of a build and how long it took, printed as it ends, so a slow build shows where
its time goes."""

from __future__ import annotations

import contextlib
import os
import time
from typing import Iterator

from pex_backend.bytecode import TRUE

SWITCH = "PEXBIN_TIMINGS"


def enabled() -> bool:
    return os.environ.get(SWITCH, "").strip().lower() in TRUE


def report(name: str, started: float) -> None:
    """With timings on, print how long since `started` (a `time.perf_counter()`)."""
    if enabled():
        # One write, newline included: print's separate write of the newline lets a line from another thread (binaries
        # build in parallel) land between the two, and two steps run together on one line.
        print(f"pex-backend: timing: {name} {time.perf_counter() - started:.3f} s\n", end="", flush=True)


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Time the block; with timings on, print `pex-backend: timing: NAME 0.123 s` when it ends (or fails)."""
    if not enabled():
        yield
        return
    started = time.perf_counter()
    try:
        yield
    finally:
        report(name, started)
