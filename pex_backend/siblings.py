"""Siblings by copy: a further zipapp PEX of a resolve, written from the first one pex built.

Two PEX files that pex builds from the same sources with the same options, apart from their entry point, differ in
three zip entries: `PEX-INFO` (its `entry_point`, and its `pex_hash`, the sha1 of PEX-INFO's own dump) and the two
boot scripts that embed the hash, `__main__.py` and `__pex__/__init__.py` (pex's `PEXBuilder._prepare_code`). A
sibling is the first PEX with every other entry copied as it is (its local header and compressed bytes, without
decompressing), those three written by pex's own code (`PexInfo` for PEX-INFO and its hash, `open_zip` and
`write_deterministic` for the entries), and the central directory moved along. Whether that gives exactly the
bytes pex gives is not assumed: the build proves it once per pex version and shape against a PEX pex built (see
`compose`), and anything this module does not recognise is left to pex (`derive` returns False).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from .wheel import FIXED_TIME

PEX_INFO = "PEX-INFO"
BOOT_SCRIPTS = ("__main__.py", "__pex__/__init__.py")
END = struct.Struct("<4s4H2LH")  # the end of central directory record
CENTRAL = struct.Struct("<4s6H3L5H2L")  # a central directory file header, before its name, extra and comment
END_SIGNATURE, CENTRAL_SIGNATURE = b"PK\x05\x06", b"PK\x01\x02"
ZIP64_SIGNATURES = (b"PK\x06\x06", b"PK\x06\x07")
ENTRY_POINTS_TXT = re.compile(r"^\.deps/[^/]+/[^/]+\.dist-info/entry_points\.txt$")


@dataclass(frozen=True)
class Target:
    """What a sibling runs: a console script of one of the PEX's distributions, or an entry point as given."""

    console_script: Optional[str] = None
    entry_point: Optional[str] = None


@dataclass
class Entry:
    info: zipfile.ZipInfo
    start: int
    """Where its local record (header, data, descriptor) starts in the file; it ends where the next one starts."""
    end: int
    central: bytes
    """Its central directory record, as written."""


@dataclass
class Archive:
    """A zipapp as zip records: what precedes the first one (the shebang), each entry, the end record."""

    data: bytes
    entries: List[Entry]
    central_start: int
    end: bytes
    shift: int
    """What the stored offsets lack of the file's positions (the shebang, when pex stores relative offsets)."""


def read_archive(data: bytes) -> Optional[Archive]:
    """The zip records of a PEX file, or None for a zip this module does not rewrite (zip64, several disks, a
    comment, anything unexpected)."""
    at = len(data) - END.size
    if at < 0 or data[at : at + 4] != END_SIGNATURE or any(sig in data[-1024:] for sig in ZIP64_SIGNATURES):
        return None
    _, disk, central_disk, count, total, size, offset, comment = END.unpack_from(data, at)
    if disk or central_disk or count != total or comment:
        return None
    central_start = at - size
    shift = central_start - offset
    entries: List[Entry] = []
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = archive.infolist()
    position = central_start
    for info in infos:
        if data[position : position + 4] != CENTRAL_SIGNATURE:
            return None
        fields = CENTRAL.unpack_from(data, position)
        length = CENTRAL.size + fields[10] + fields[11] + fields[12]
        entries.append(Entry(info, fields[-1] + shift, 0, data[position : position + length]))
        position += length
    if position != at or len(entries) != count:
        return None
    ordered = sorted(entries, key=lambda entry: entry.start)
    if [entry.info.filename for entry in ordered] != [entry.info.filename for entry in entries]:
        return None  # pex writes the central directory in the order of the entries
    for entry, following in zip(ordered, [*ordered[1:], None]):
        entry.end = following.start if following else central_start
    return Archive(data, entries, central_start, data[at:], shift)


def console_scripts(archive: Archive) -> Dict[str, List[str]]:
    """Each console (and gui) script of the PEX's distributions: the entry points it names, one per distribution,
    as pex's `Distribution.parse_entry_map` reads them."""
    from pex.dist_metadata import Distribution

    found: Dict[str, Dict[str, str]] = {}
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zip_file:
        for entry in archive.entries:
            if not ENTRY_POINTS_TXT.match(entry.info.filename):
                continue
            project = entry.info.filename.split("/")[2].rsplit("-", 1)[0].lower().replace("_", "-")
            entry_map = Distribution.parse_entry_map(zip_file.read(entry.info), entry.info.filename)
            for group in ("gui_scripts", "console_scripts"):  # pex prefers a console script
                for name, named in entry_map.get(group, {}).items():
                    found.setdefault(name, {})[project] = str(named.entry_point)
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


def pex_info_for(first: bytes, entry_point: str) -> Optional[Tuple[bytes, str, str]]:
    """The sibling's PEX-INFO, with the first's hash and the sibling's, computed as pex computes them (the sha1 of
    the dump without a hash); None when the first PEX-INFO is not what pex would have dumped."""
    from pex.pex_info import PexInfo

    data = json.loads(first)
    old_hash = data.pop("pex_hash", None)
    unhashed = PexInfo(info=data)
    if not old_hash or hashlib.sha1(unhashed.dump().encode("utf-8")).hexdigest() != old_hash:
        return None
    unhashed.pex_hash = old_hash
    if unhashed.dump().encode("utf-8") != first:
        return None
    sibling = PexInfo(info=dict(data, entry_point=entry_point))
    new_hash = hashlib.sha1(sibling.dump().encode("utf-8")).hexdigest()
    sibling.pex_hash = new_hash
    return sibling.dump().encode("utf-8"), old_hash, new_hash


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


def same_header(one: zipfile.ZipInfo, other: zipfile.ZipInfo) -> bool:
    """Whether two entries agree in everything but their content."""
    fields = ("date_time", "compress_type", "external_attr", "create_system", "create_version", "extract_version")
    return all(getattr(one, f) == getattr(other, f) for f in fields) and one.flag_bits == other.flag_bits


def relocated(central: bytes, offset: int) -> bytes:
    """A central directory record pointing at a local record stored at `offset`."""
    return central[:42] + struct.pack("<L", offset) + central[46:]


def derive(first: Path, target: Target, output: Path, alter: bool = False) -> bool:
    """Write at `output` the PEX pex builds with `first`'s sources and options for `target`; False (and nothing
    written) when `first` is not a PEX this module can derive from. `alter` (for the tests alone) adds a byte to
    `__main__.py`, as a future pex that wrote it differently would."""
    archive = read_archive(first.read_bytes())
    if archive is None:
        return False
    names = {entry.info.filename: entry for entry in archive.entries}
    if PEX_INFO not in names or not all(name in names for name in BOOT_SCRIPTS):
        return False
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zip_file:
        first_info = zip_file.read(PEX_INFO)
        boots = [zip_file.read(name).decode("utf-8") for name in BOOT_SCRIPTS]
    if json.loads(first_info).get("script") or json.loads(first_info).get("pex_path"):
        return False  # pex finds scripts (and searches a PEX path) in ways not repeated here
    entry_point = entry_point_of(archive, target, console_scripts(archive) if target.console_script else {})
    if entry_point is None:
        return False
    made = pex_info_for(first_info, entry_point)
    if made is None:
        return False
    info, old_hash, new_hash = made
    replaced = {PEX_INFO: info}
    for name, text in zip(BOOT_SCRIPTS, boots):
        new_text = boot_script(text, old_hash, new_hash)
        if new_text is None:
            return False
        replaced[name] = new_text.encode("utf-8")
    if alter:
        replaced[BOOT_SCRIPTS[0]] += b"\n"
    with tempfile.TemporaryDirectory(prefix="sibling-", dir=output.parent) as work:
        fresh = written_by_pex({n: (content, names[n].info) for n, content in replaced.items()}, Path(work))
    if fresh is None or not all(same_header(e.info, names[e.info.filename].info) for e in fresh.entries):
        return False
    write(archive, fresh, output)
    return True


def write(archive: Archive, replacements: Archive, output: Path) -> None:
    """The archive with the entries of `replacements` in place of those of the same name, every other record
    copied as it is."""
    fresh = {entry.info.filename: entry for entry in replacements.entries}
    first_changed = min(entry.start for entry in archive.entries if entry.info.filename in fresh)
    partial = output.with_name(output.name + ".partial")
    central: List[bytes] = []
    with open(partial, "wb") as out:
        out.write(archive.data[:first_changed])
        for entry in archive.entries:
            if entry.start < first_changed:
                central.append(entry.central)
                continue
            position = out.tell()
            new = fresh.get(entry.info.filename)
            if new:
                out.write(replacements.data[new.start : new.end])
                central.append(relocated(new.central, position - archive.shift))
            else:
                out.write(archive.data[entry.start : entry.end])
                central.append(relocated(entry.central, position - archive.shift))
        central_start = out.tell()
        directory = b"".join(central)
        out.write(directory)
        end = bytearray(archive.end)
        struct.pack_into("<2L", end, 12, len(directory), central_start - archive.shift)
        out.write(bytes(end))
    os.chmod(partial, os.stat(partial).st_mode | 0o111)  # as pex's chmod_plus_x
    os.replace(partial, output)
