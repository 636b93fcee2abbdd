"""The project's part of a PEX without a pex run: after an edit, the project's wheel is zipped by pex's own code in a
pex worker (`worker.project_part`: pex's wheel install, its `Chroot` and `Chroot.zip`), and spliced onto the base
(a PEX of the same resolve and options an earlier build kept) in place of the old wheel's entries.

What pex's run of the project's part gave besides those entries is worked out here: PEX-INFO's `distributions`
value for the wheel (the installed wheel's fingerprint, which the worker reports) and the `entry_point` a console
script resolves to among the spliced PEX's distributions (as `siblings.derive` works it out); every other field of
PEX-INFO comes from the build's options, which the base shares. That this gives exactly pex's bytes is not assumed:
it is proven once per pex version and shape against the PEX spliced from pex's own run (see `compose.group`), and a
mismatch leaves the project's part to pex from then on, for that pex version.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Dict, Optional

from .siblings import HERE, PEX_INFO, PexCode, Target, attempt, console_scripts, entry_point_of, rewrite
from .zipapp import Refusal, read_entry, readable, wheel_block

KIND = "part-proofs"


def splice_part(
    base: Path,
    part: Path,
    wheel: str,
    fingerprint: str,
    target: Target,
    output: Path,
    alter: bool = False,
    code: PexCode = HERE,
) -> Optional[str]:
    """Write at `output` the PEX pex builds with `base`'s sources and options but another build of the project's
    wheel `wheel` (a file name, the same as in `base`): `base`'s records with the wheel's replaced by those of
    `part` (a zip of that wheel's entries alone, as pex writes them), its fingerprint `fingerprint`, and the PEX
    made to run `target`. None when written, else why not (nothing written). `alter` (for the tests alone) adds a
    byte to `__main__.py`, as a future pex that wrote the part differently would. `code`: where pex's code runs."""

    def write() -> None:
        base_archive, part_archive = readable(base), readable(part)
        at, own = wheel_block(base_archive, wheel), wheel_block(part_archive, wheel)
        if any(entry.info.filename != ".deps/" for i, entry in enumerate(part_archive.entries) if i not in own):
            raise Refusal(f"the project's part holds more than {wheel}")
        if not fingerprint:
            raise Refusal("pex gave the installed wheel no fingerprint")
        info = json.loads(read_entry(base_archive, PEX_INFO) or b"{}")
        distributions: Dict[str, str] = info.get("distributions", {})
        if wheel not in distributions:
            raise Refusal(f"the base's PEX-INFO has no {wheel}")
        block = [part_archive.entries[i] for i in own]
        changes = {"distributions": dict(distributions, **{wheel: fingerprint})}
        if target.console_script:
            # The distributions of the spliced PEX: the base's others and the new wheel.
            others = [entry for i, entry in enumerate(base_archive.entries) if i not in at]
            scripts = console_scripts(replace(base_archive, entries=others), code)
            for name, found in console_scripts(replace(part_archive, entries=block), code).items():
                scripts.setdefault(name, []).extend(found)
            entry_point = entry_point_of(base_archive, target, scripts)
            if entry_point is None:
                raise Refusal(f"the console script {target.console_script} is not in exactly one distribution")
            changes["entry_point"] = entry_point
        records = [(base_archive, entry) for entry in base_archive.entries[: at[0]]]
        records += [(part_archive, entry) for entry in block]
        records += [(base_archive, entry) for entry in base_archive.entries[at[-1] + 1 :]]
        rewrite(base_archive, changes, records, output, alter, code)

    return attempt(write)
