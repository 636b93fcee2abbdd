"""Siblings by copy: a further zipapp PEX of a resolve, written from the first one pex built.

Two PEX files that pex builds from the same sources with the same options, apart from their entry point, differ in
three zip entries: `PEX-INFO` (its `entry_point`, and its `pex_hash`, the sha1 of PEX-INFO's own dump) and the two
boot scripts that embed the hash, `__main__.py` and `__pex__/__init__.py` (pex's `PEXBuilder._prepare_code`). A
sibling is the first PEX with every other entry copied as it is (`zipapp`), those three written by pex's own code
(`PexInfo` for PEX-INFO and its hash, `open_zip` and `write_deterministic` for the entries). Whether that gives
exactly the bytes pex gives is not assumed: the build proves it once per pex version and shape against a PEX pex
built (see `compose`), and anything this module does not recognise is left to pex: `derive` and `splice` then say
why not, and write nothing.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Protocol, Sequence, Tuple, Union

from pex_backend.errors import BuildError

from . import worker
from .zipapp import Archive, Entry, Refusal, read_archive, read_entry, readable, same_header, wheel_block, write

# The time pex gives every zip entry of a reproducible PEX (and our reproducible wheels, theirs).
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
PEX_INFO = "PEX-INFO"
BOOT_SCRIPTS = ("__main__.py", "__pex__/__init__.py")
ENTRY_POINTS_TXT = re.compile(r"^\.deps/[^/]+/[^/]+\.dist-info/entry_points\.txt$")
SCRIPT_GROUPS = ("gui_scripts", "console_scripts")  # pex prefers a console script: the later wins


class PexCode(Protocol):
    """pex's own code that a shortcut runs: in this process (`HERE`, which imports pex for it), or in a pex worker,
    which has it imported already (`PexWorkers`). Both are `worker`'s functions."""

    def entry_maps(self, files: Dict[str, bytes], groups: Sequence[str]) -> Dict[str, Dict[str, Dict[str, str]]]:
        """entry_points.txt files (name to content), each one's scripts of `groups`, as pex parses them."""

    def pex_info_for(self, first: bytes, changes: Dict[str, Any]) -> Optional[Tuple[bytes, str, str]]:
        """PEX-INFO with `changes`, and the first's hash and the new one, as pex computes them."""


HERE: PexCode = worker  # its functions, run in this process


def attempt(write: Callable[[], None]) -> Optional[str]:
    """Run a shortcut: None when it wrote its PEX, else why it did not (nothing written). pex's internals raising
    anything (a pex whose code differs from the one proven) count as a refusal; the file system's errors do not, nor
    a worker that died running pex's code (a `BuildError`, as when one dies running pex)."""
    try:
        write()
    except Refusal as exc:
        return str(exc)
    except (OSError, BuildError):
        raise
    except Exception as exc:  # pex's code, not as proven: pex builds the PEX instead
        return f"pex's code is not what was proven ({type(exc).__name__}: {exc})"
    return None


@dataclass(frozen=True)
class Target:
    """What a sibling runs: a console script of one of the PEX's distributions, or an entry point as given."""

    console_script: Optional[str] = None
    entry_point: Optional[str] = None


def console_scripts(archive: Archive, code: PexCode = HERE) -> Dict[str, List[str]]:
    """Each console (and gui) script of the PEX's distributions: the entry points it names, one per distribution,
    as pex's `Distribution.parse_entry_map` reads them."""
    files = {
        e.info.filename: archive.reader.read(e.info) for e in archive.entries if ENTRY_POINTS_TXT.match(e.info.filename)
    }
    maps = code.entry_maps(files, SCRIPT_GROUPS) if files else {}
    found: Dict[str, Dict[str, str]] = {}
    for filename in files:
        project = filename.split("/")[2].rsplit("-", 1)[0].lower().replace("_", "-")
        for group in SCRIPT_GROUPS:
            for name, entry_point in maps[filename][group].items():
                found.setdefault(name, {})[project] = entry_point
    return {name: list(by_project.values()) for name, by_project in found.items()}


def entry_point_of(archive: Archive, target: Target, scripts: Dict[str, List[str]]) -> Optional[str]:
    """PEX-INFO's `entry_point` as pex sets it for `target` (`PEXBuilder.set_script` / `set_entry_point`), or None
    where that is not certain (a script in no distribution, or in several)."""
    if target.console_script is None:
        return target.entry_point
    matches = scripts.get(target.console_script, [])
    return matches[0] if len(matches) == 1 else None


def boot_script(text: str, old_hash: str, new_hash: str) -> Optional[str]:
    """A boot script with the PEX's hash replaced, as `_prepare_code` formats it (`pex_hash='...'`), or None when
    the hash is not there exactly once."""
    old, new = f"pex_hash={old_hash!r}", f"pex_hash={new_hash!r}"
    return text.replace(old, new) if text.count(old) == 1 and text.count(old_hash) == 1 else None


def written_by_pex(entries: Dict[str, Tuple[bytes, zipfile.ZipInfo]], work: Path) -> Optional[Archive]:
    """The given entries zipped as pex zips a chroot's files (`open_zip`, `write_deterministic`), each with the
    mode and compression of the entry it replaces."""
    from pex.common import open_zip

    files = work / "files"
    for name, (content, like) in entries.items():
        path = files / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        os.chmod(path, 0o755 if (like.external_attr >> 16) & 0o111 else 0o644)
    with open_zip(str(work / "entries.zip"), "w", zipfile.ZIP_DEFLATED) as zip_file:
        for name, (_, like) in entries.items():
            zip_file.write_deterministic(
                filename=str(files / name),
                arcname=name,
                deterministic=like.date_time == FIXED_TIME,
                compress=like.compress_type == zipfile.ZIP_DEFLATED,
            )
    return read_archive((work / "entries.zip").read_bytes())


class FirstPex:
    """The first PEX of a family, read (and its console scripts found) once for all the siblings derived from it."""

    def __init__(self, path: Path, code: PexCode = HERE) -> None:
        self.path, self.code = path, code
        self.lock = threading.Lock()
        self.archive: Optional[Archive] = None
        self.scripts: Optional[Dict[str, List[str]]] = None

    def read(self, scripts: bool) -> Tuple[Archive, Dict[str, List[str]]]:
        """The archive, and its console scripts when asked for (`Refusal` where it is not of the kind rewritten)."""
        with self.lock:
            if self.archive is None:
                self.archive = readable(self.path)
            if scripts and self.scripts is None:
                self.scripts = console_scripts(self.archive, self.code)
            return self.archive, (self.scripts or {}) if scripts else {}


def derive(first: Union[Path, FirstPex], target: Target, output: Path, alter: bool = False) -> Optional[str]:
    """Write at `output` the PEX pex builds with `first`'s sources and options for `target`: None when written,
    else why not (nothing written). `alter` (for the tests alone) adds a byte to `__main__.py`, as a future pex that
    wrote it differently would."""
    source = first if isinstance(first, FirstPex) else FirstPex(first)

    def write() -> None:
        archive, scripts = source.read(scripts=bool(target.console_script))
        entry_point = entry_point_of(archive, target, scripts)
        if entry_point is None:
            raise Refusal(f"the console script {target.console_script} is not in exactly one distribution")
        records = [(archive, entry) for entry in archive.entries]
        rewrite(archive, {"entry_point": entry_point}, records, output, alter, source.code)

    return attempt(write)


def splice(base: Path, small: Path, wheel: str, output: Path, code: PexCode = HERE) -> Optional[str]:
    """Write at `output` the PEX pex builds with `base`'s sources and options but another build of the project's
    wheel `wheel` (a file name, the same as in `base`), taken from `small`, a PEX pex built with it (and with
    every other distribution excluded): `base`'s records with the wheel's replaced by `small`'s. None when
    written, else why not (nothing written)."""

    def write() -> None:
        base_archive, small_archive = readable(base), readable(small)
        at = wheel_block(base_archive, wheel)
        block = [small_archive.entries[i] for i in wheel_block(small_archive, wheel)]
        base_info, small_info = (json.loads(read_entry(a, PEX_INFO) or b"{}") for a in (base_archive, small_archive))
        changes = project_part(base_info, small_info, wheel)
        if changes is None:
            raise Refusal(f"PEX-INFO has fields the project's part lacks, or no {wheel}")
        records = [(base_archive, entry) for entry in base_archive.entries[: at[0]]]
        records += [(small_archive, entry) for entry in block]
        records += [(base_archive, entry) for entry in base_archive.entries[at[-1] + 1 :]]
        rewrite(base_archive, changes, records, output, code=code)

    return attempt(write)


def project_part(base: Dict[str, Any], small: Dict[str, Any], wheel: str) -> Optional[Dict[str, Any]]:
    """What of PEX-INFO comes from the project's wheel: the wheel's fingerprint in `distributions`, and every other
    field in which pex's run of the project's part differs from the base (the `entry_point` a console script
    resolves to, say), as that run was given everything the full build is, less the other distributions
    (`excluded`). None when the base has a field that run lacks: a shape not known here."""
    distributions, fingerprint = base.get("distributions", {}), small.get("distributions", {}).get(wheel)
    if wheel not in distributions or not fingerprint:
        return None
    own = ("distributions", "excluded", "pex_hash")
    if any(name not in small for name in base if name not in own):
        return None
    changes = {name: value for name, value in small.items() if name not in own and base.get(name) != value}
    return {**changes, "distributions": dict(distributions, **{wheel: fingerprint})}


def rewrite(
    archive: Archive,
    changes: Dict[str, Any],
    records: List[Tuple[Archive, Entry]],
    output: Path,
    alter: bool = False,
    code: PexCode = HERE,
) -> None:
    """Write `records` as a zipapp with `archive`'s shebang, PEX-INFO changed by `changes` and the boot scripts
    given its new hash (those three written by pex's code); `Refusal` (and nothing written) where that is not
    done."""
    names = {entry.info.filename: entry for entry in archive.entries}
    if PEX_INFO not in names or not all(name in names for name in BOOT_SCRIPTS):
        raise Refusal("no PEX-INFO or boot scripts where pex writes them")
    first_info = read_entry(archive, PEX_INFO) or b""
    boots = [(read_entry(archive, name) or b"").decode("utf-8") for name in BOOT_SCRIPTS]
    if json.loads(first_info).get("script") or json.loads(first_info).get("pex_path"):
        raise Refusal("a script or a PEX path (pex finds them in ways not repeated here)")
    made = code.pex_info_for(first_info, changes)
    if made is None:
        raise Refusal("PEX-INFO is not what pex's PexInfo dumps")
    info, old_hash, new_hash = made
    replaced = {PEX_INFO: info}
    for name, text in zip(BOOT_SCRIPTS, boots):
        new_text = boot_script(text, old_hash, new_hash)
        if new_text is None:
            raise Refusal(f"{name} does not name the PEX's hash once")
        replaced[name] = new_text.encode("utf-8")
    head = archive.data[: min(entry.start for entry in archive.entries)]
    if head.count(b"\n") > 1:
        # An `--sh-boot` script: a zipapp's names the directory the PEX installs to by its hash; a venv's names
        # one hashed from more than that, which is left to pex.
        if json.loads(first_info).get("venv") or head.count(old_hash.encode()) != 1:
            raise Refusal("a venv PEX's sh-boot script")
        head = head.replace(old_hash.encode(), new_hash.encode())
    if alter:
        replaced[BOOT_SCRIPTS[0]] += b"\n"
    with tempfile.TemporaryDirectory(prefix="sibling-", dir=output.parent) as work:
        fresh = written_by_pex({n: (content, names[n].info) for n, content in replaced.items()}, Path(work))
    if fresh is None or not all(same_header(e.info, names[e.info.filename].info) for e in fresh.entries):
        raise Refusal("pex's zip writer gave entries with other headers")
    by_name = {entry.info.filename: entry for entry in fresh.entries}
    write(
        archive,
        head,
        [(fresh, by_name[e.info.filename]) if e.info.filename in by_name else (a, e) for a, e in records],
        output,
    )
