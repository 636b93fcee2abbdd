"""Interpreter constraints as pex reads them, checked and matched with pex's own code.

pex is imported only when a function here runs: it is a build requirement of `build_wheel`, not of the table.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import platform
import sys
import tempfile
from pathlib import Path
from typing import Callable, Optional, Sequence

from pex_backend.pex import worker
from pex_backend.pex.cache import key_of
from pex_backend.pex.pool import PexCodeFailed
from pex_backend.pex.workers import copy_on_import, pex_version


def pex_available() -> bool:
    return copy_on_import() is not None or importlib.util.find_spec("pex") is not None


def problem(constraint: str) -> Optional[str]:
    """Why pex refuses `constraint`, or None when pex understands it."""
    from pex.interpreter_constraints import InterpreterConstraint

    try:
        InterpreterConstraint.parse(constraint)
    except ValueError as exc:  # unparseable, or a range no version is in (pex's UnsatisfiableError)
        return str(exc).replace(f"Unparseable interpreter constraint {constraint}: ", "")
    return None


def running_interpreter_matches(
    constraints: Sequence[str], answers: Optional[str] = None, ask: Optional[Callable[[Sequence[str]], bool]] = None
) -> bool:
    """Whether this interpreter meets any of `constraints` (all of them OR-ed, as pex does); True when none. With
    `answers` (a directory of the build cache), pex's answer is kept there, keyed by the constraints, this
    interpreter and the pex version, so that a later build (one that reuses every PEX) imports no more of pex.
    `ask`: a pex worker's answer (`PexWorkers.interpreter_matches`: its interpreter is this one's, through a link),
    which has pex imported where this process would import it for this alone; else pex's code runs here."""
    if not constraints:
        return True
    identity = [os.path.realpath(sys.executable), sys.version, sys.implementation.cache_tag, platform.machine()]
    known = Path(answers or ".", f"matches-{key_of(sorted(constraints), identity, pex_version())}.json")
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        if answers:
            # Checked before it is trusted: the answer to these constraints for this interpreter, a boolean.
            kept = json.loads(known.read_text())
            if kept["constraints"] == sorted(constraints) and kept["identity"] == identity:
                if isinstance(kept["matches"], bool):
                    return kept["matches"]
    matches = None
    if ask is not None:
        with contextlib.suppress(PexCodeFailed):  # pex's code raised there: it runs here, and says why
            matches = ask(constraints)
    if matches is None:
        matches = worker.interpreter_matches(constraints)
    with contextlib.suppress(OSError):
        if answers:
            known.parent.mkdir(parents=True, exist_ok=True)
            fd, written = tempfile.mkstemp(dir=known.parent, prefix=".answer-")
            with os.fdopen(fd, "w") as file:
                file.write(json.dumps({"constraints": sorted(constraints), "identity": identity, "matches": matches}))
            os.replace(written, known)  # whole or not there, for builds reading it at once
    return matches
