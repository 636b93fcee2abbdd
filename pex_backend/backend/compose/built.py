"""A PEX the build wrote (or reused), and the line that says so."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional, Sequence, Tuple

from pex_backend.backend.plan import BinarySpec
from pex_backend.pex.cache_files import size_of


@dataclass(frozen=True)
class BuiltBinary:
    spec: BinarySpec
    path: Path
    seconds: float
    reused: bool = False
    derived_from: Optional[str] = None
    """The PEX this one was derived from (its name), when it was not built by pex."""
    spliced: bool = False
    """Whether the project's part was written alone, the rest coming from an earlier build's PEX."""
    part_written: bool = False
    """Whether pex's code wrote that part in a worker, without a run of pex (else pex's run built it)."""
    sha256: Optional[str] = None
    """The file's sha256, when the build cache's manifest already says it."""
    scies: Tuple[Path, ...] = ()
    """The scies (and their checksum files) pex wrote beside the PEX, relative to its directory."""
    artifacts: Mapping[str, str] = field(default_factory=dict)
    """With `sbom`: the sha256 of each wheel file of the resolve pex built it from, by file name."""


def describe_size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


def announce(built: Sequence[BuiltBinary]) -> None:
    """One line per PEX, once it is in place."""
    for item in built:
        size = describe_size(size_of(item.path))
        if item.reused:
            print(f"pex-backend: reused {item.path.name} from the build cache ({size})", flush=True)
        elif item.spliced:
            what = "the project's part written by pex's code" if item.part_written else "pex built the project's part"
            print(f"pex-backend: wrote {item.path.name} ({size}, {item.seconds:.1f} s, {what})", flush=True)
        elif item.derived_from:
            print(f"pex-backend: wrote {item.path.name} ({size}, derived from {item.derived_from})", flush=True)
        else:
            print(f"pex-backend: wrote {item.path.name} ({size}, {item.seconds:.1f} s)", flush=True)
        if item.scies:
            scies = ", ".join(scie.as_posix() for scie in item.scies)
            print(f"pex-backend: wrote {scies} (pex's scie of {item.path.name})", flush=True)


def fallback(name: str, why: str, log: str = "", doing: str = "") -> None:
    """One line for a shortcut not taken (pex builds that PEX, or what `doing` says), with pex's output when pex
    failed."""
    lines = [f"pex-backend: notice: {doing or f'pex builds {name} itself'}: {why}"]
    lines += [f"pex-backend:   {line}" for line in log.strip().splitlines()[-40:]]
    print("\n".join(lines) + "\n", end="", flush=True)  # one write: PEX files build in threads
