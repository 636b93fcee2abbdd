"""Whether sibling derivation gives pex's own bytes: proven once per pex version and shape, kept in the build cache.

A shape is everything of a PEX's build that is not its entry point (its options, the kind of entry point); the
proof is one sibling built both ways and compared byte for byte. A mismatch turns derivation off for that pex
version (with this backend, this Python and this zlib) in that cache, for every shape: pex then builds every PEX.
"""

from __future__ import annotations

import json
import sys
import zlib
from typing import Optional, Sequence

from .cache import BuildCache, backend_digest, key_of
from .workers import pex_version

KIND = "sibling-proofs"
VERDICT = "verdict.json"


def what_pex_is() -> list:
    """What pex's output depends on besides its arguments: pex itself, the interpreter (its zipfile) and zlib."""
    return [pex_version(), backend_digest(), sys.version, zlib.ZLIB_RUNTIME_VERSION]


class SiblingProofs:
    """The proofs of one shortcut: `kind` names it in the cache (siblings by default; `parts.KIND` for the
    project's part written without a pex run, whose mismatch leaves siblings as they are)."""

    def __init__(self, cache: BuildCache, kind: str = KIND) -> None:
        self.cache = cache
        self.kind = kind
        self.pex = what_pex_is()

    def key(self, shape: Optional[Sequence[str]]) -> str:
        return key_of(self.kind, self.pex, list(shape) if shape is not None else None)

    def read(self, shape: Optional[Sequence[str]]) -> Optional[bool]:
        entry = self.cache.checked(self.kind, self.key(shape), "sibling proof")
        if entry is None:
            return None
        try:
            return bool(json.loads((entry / VERDICT).read_text())["identical"])
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def verdict(self, shape: Sequence[str]) -> Optional[bool]:
        """True when derivation was proven for this shape, False when it is off, None when not yet proven."""
        if self.read(None) is False:
            return False
        return self.read(shape)

    def record(self, shape: Sequence[str], identical: bool, binary: str) -> None:
        """Keep a proof's outcome; a mismatch turns derivation off for this pex version, with a notice."""
        if not identical and self.read(None) is False:
            return  # already off
        for scope in (shape, None) if not identical else (shape,):
            filled = self.cache.fresh()
            (filled / VERDICT).write_text(json.dumps({"identical": identical, "binary": binary}) + "\n")
            self.cache.publish(filled, self.kind, self.key(scope), {"pex": self.pex, "shape": scope})
        if not identical and self.kind == KIND:
            print(
                f"pex-backend: a PEX derived from its sibling differed from pex {self.pex[0]}'s own build of "
                f"{binary}; pex builds every PEX from now on with this pex version",
                flush=True,
            )
        elif not identical:
            print(
                f"pex-backend: {binary} with the project's part written by pex's code in a worker differed from the "
                f"one pex's run of that part gave (or that code failed); pex's run writes the project's part from now "
                f"on with pex {self.pex[0]}",
                flush=True,
            )
