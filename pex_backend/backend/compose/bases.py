"""The first PEX of a family after an edit: an earlier build's PEX of the same resolve and options (its base) with
the project's own part spliced in, that part written by pex's code in a worker (`pex.parts`) or by pex's run of it
alone (`pex.siblings.splice`), each way once proven for the pex version and shape; pex builds the whole PEX
otherwise."""

from __future__ import annotations

import filecmp
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence, Tuple

from packaging.utils import canonicalize_name as canonical

from pex_backend.backend.plan import BinarySpec
from pex_backend.pex import parts
from pex_backend.pex.cache import key_of
from pex_backend.pex.pexinfo import pex_info, pinned_requirements
from pex_backend.pex.proofs import SiblingProofs
from pex_backend.pex.siblings import Target, splice
from pex_backend.timings import step

from .args import binary_args, copyable, stable_args
from .built import BuiltBinary, fallback

BASE = "base.pex"
# For the tests alone: a PEX spliced from the project's part written without pex gets one byte more, as if a future
# pex wrote that part differently.
ALTER_PARTS = "PEXBIN_TEST_ALTER_PARTS"


class Bases:
    """`GroupBuild`'s bases and splices (a part of it, in a module of its own: it uses the group's cache, keys,
    wheel, staging directory, workers and proofs, and its `build`, `sources` and `keep`)."""

    def first(self, binary: BinarySpec, sources: Sequence[str]) -> BuiltBinary:
        """The first PEX of a family. Once the build cache holds a base for it (a PEX of the same resolve, options
        and wheel name an earlier build kept), the project's own part alone is written after an edit and the base
        gives the rest, once that is proven for this pex version and shape."""
        base = self.base(binary)
        if base is None or self.proofs is None:
            return self.kept_as_base(self.build(binary, sources))
        shape = ("splice", *stable_args(binary))
        verdict = self.proofs.verdict(shape)
        if verdict:
            spliced = self.spliced_without_pex(binary, base, shape) or self.spliced(binary, base)
            if spliced:
                final = spliced.path.with_name(f"{binary.name}.pex")
                os.replace(spliced.path, final)
                return self.keep(replace(spliced, path=final))
            return self.build(binary, sources)
        spliced = self.spliced(binary, base) if verdict is not False else None
        built = self.build(binary, sources)
        if spliced:
            self.judged(shape, spliced, built)
        return built

    def judged(
        self,
        shape: Sequence[str],
        shortcut: BuiltBinary,
        built: BuiltBinary,
        proofs: Optional[SiblingProofs] = None,
    ) -> bool:
        """Whether a PEX written by a shortcut is the one pex built; the verdict is kept, the shortcut's file goes."""
        proofs = proofs or self.proofs
        assert proofs is not None
        identical = filecmp.cmp(shortcut.path, built.path, shallow=False)
        shortcut.path.unlink()
        proofs.record(shape, identical, f"{built.spec.name}.pex")
        return identical

    def spliceable(self, binary: BinarySpec) -> bool:
        """Whether `binary` is built from the group's resolve and the project's wheel as a zipapp alone, so that a
        base can stand for it."""
        standard = self.group.include_requirements and not self.group.ignore_errors and self.requirements
        return bool(self.cache and standard and self.group.include_sources and copyable(binary))

    def base_key(self, binary: BinarySpec) -> str:
        return key_of("base", self.resolve_key, stable_args(binary), self.wheel.path.name)

    def base(self, binary: BinarySpec) -> Optional[Path]:
        if not self.cache or not self.spliceable(binary):
            return None
        found = self.cache.checked("bases", self.base_key(binary), f"base of {binary.name}.pex")
        return found / BASE if found else None

    def kept_as_base(self, built: BuiltBinary) -> BuiltBinary:
        """Keep a PEX pex built as the base of later builds of the same resolve and options (first one wins)."""
        if self.cache and self.spliceable(built.spec):
            entry = self.cache.fresh()
            shutil.copy2(built.path, entry / BASE)
            self.cache.publish(entry, "bases", self.base_key(built.spec), {"resolve": self.resolve_key})
        return built

    def spliced(self, binary: BinarySpec, base: Path) -> Optional[BuiltBinary]:
        """`binary` from its base and a PEX of the project's own part alone, which pex builds with every other
        distribution excluded; None where that is not done."""
        started = time.monotonic()
        output = self.staging / f"{binary.name}.pex.spliced"
        small = self.staging / f"{binary.name}.pex.project"
        others = {name.split("==")[0] for name in pinned_requirements(pex_info(base))} - {canonical(self.wheel.name)}
        excluded = [arg for name in sorted(others) for arg in ("--exclude", name)]
        with step(f"pex building the project's part of {binary.name}.pex"):
            args = [*self.sources(), *binary_args(binary), *excluded, "-o", str(small)]
            code, log = self.workers.run(args, self.staging)
        if code != 0:
            fallback(f"{binary.name}.pex", "pex's run of the project's part alone failed", log)
            return None
        with step(f"splicing {binary.name}.pex"):
            why_not = splice(base, small, self.wheel.path.name, output, self.workers)
        small.unlink()
        if why_not:
            fallback(f"{binary.name}.pex", why_not)
            return None
        return BuiltBinary(binary, output, time.monotonic() - started, spliced=True)

    def spliced_without_pex(self, binary: BinarySpec, base: Path, shape: Sequence[str]) -> Optional[BuiltBinary]:
        """`binary` from its base and the project's part written by pex's code in a worker, once that is proven
        for this pex version and shape: until then, the one pex's run of the part gives, compared with it (the
        verdict kept); None where neither is done."""
        assert self.cache is not None
        proofs = SiblingProofs(self.cache, parts.KIND)
        verdict = proofs.verdict(shape)
        if verdict is False or binary.options.extra_build_args:  # pex options of the user's own: pex's run
            return None
        written, failed = self.part_written(binary, base)
        if failed:
            proofs.record(shape, False, f"{binary.name}.pex")  # pex's code is not as proven: pex's run from now on
        if written is None or verdict:
            return written
        by_pex = self.spliced(binary, base)
        if by_pex is not None:
            self.judged(shape, written, by_pex, proofs)
        else:
            written.path.unlink()
        return by_pex

    def part_written(self, binary: BinarySpec, base: Path) -> Tuple[Optional[BuiltBinary], bool]:
        """`binary` spliced from its base and the project's part written by pex's code, or None (with a notice)
        where that is not done; and whether pex's code failed (rather than refused a PEX it does not know)."""
        started = time.monotonic()
        output = self.staging / f"{binary.name}.pex.part-spliced"
        part = self.staging / f"{binary.name}.pex.part"
        fingerprint = part.with_name(part.name + ".fingerprint")
        name = f"{binary.name}.pex"
        try:
            with step(f"writing the project's part of {name}"):
                job = {"part": str(self.wheel.path), "output": str(part), "compress": binary.options.compress}
                code, log = self.workers.send(job, f"(writing the project's part of {name})")
            if code != 0:
                fallback(name, "pex's code failed", log, doing=f"pex's run writes the project's part of {name}")
                return None, True
            with step(f"splicing {name}"):
                target = Target(console_script=binary.entry_point.script, entry_point=binary.entry_point.module)
                wheel, alter = self.wheel.path.name, bool(os.environ.get(ALTER_PARTS))
                installed = fingerprint.read_text()
                # pex's code by the worker, which has it imported already
                why_not = parts.splice_part(base, part, wheel, installed, target, output, alter, self.workers)
        finally:
            part.unlink(missing_ok=True)
            fingerprint.unlink(missing_ok=True)
        if why_not:
            fallback(name, why_not, doing=f"pex's run writes the project's part of {name}")
            return None, why_not.startswith("pex's code is not what was proven")
        return BuiltBinary(binary, output, time.monotonic() - started, spliced=True, part_written=True), False
