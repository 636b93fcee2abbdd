"""Interpreter constraints as pex reads them, checked and matched with pex's own code.

pex is imported only when a function here runs: it is a build requirement of `build_wheel`, not of the table.
"""

from __future__ import annotations

import functools
import importlib.util
from typing import Any, Optional, Sequence


def pex_available() -> bool:
    return importlib.util.find_spec("pex") is not None


def problem(constraint: str) -> Optional[str]:
    """Why pex refuses `constraint`, or None when pex understands it."""
    from pex.interpreter_constraints import InterpreterConstraint

    try:
        InterpreterConstraint.parse(constraint)
    except ValueError as exc:  # unparseable, or a range no version is in (pex's UnsatisfiableError)
        return str(exc).replace(f"Unparseable interpreter constraint {constraint}: ", "")
    return None


@functools.cache
def running_interpreter() -> Any:
    """This interpreter as pex identifies it, in-process (`PythonInterpreter.get()` would start a subprocess)."""
    from pex.interpreter import PythonIdentity, PythonInterpreter

    return PythonInterpreter(PythonIdentity.get())


def running_interpreter_matches(constraints: Sequence[str]) -> bool:
    """Whether this interpreter meets any of `constraints` (all of them OR-ed, as pex does); True when none."""
    from pex.interpreter_constraints import InterpreterConstraint

    if not constraints:
        return True
    return any(
        InterpreterConstraint.matches(constraint, running_interpreter())
        for constraint in constraints
        if problem(constraint) is None
    )
