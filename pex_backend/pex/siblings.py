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
from typing import Any, Dict, List, Optional, Tuple

# The time pex gives every zip entry of a reproducible PEX (and our reproducible wheels, theirs).
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
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


def pex_info_for(first: bytes, changes: Dict[str, Any]) -> Optional[Tuple[bytes, str, str]]:
    """PEX-INFO with `changes`, with the first's hash and the new one, computed as pex computes them (the sha1 of
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
    changed = PexInfo(info=dict(data, **changes))
    new_hash = hashlib.sha1(changed.dump().encode("utf-8")).hexdigest()
    changed.pex_hash = new_hash
    return changed.dump().encode("utf-8"), old_hash, new_hash


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
    entry_point = entry_point_of(archive, target, console_scripts(archive) if target.console_script else {})
    if entry_point is None:
        return False
    records = [(archive, entry) for entry in archive.entries]
    return rewrite(archive, {"entry_point": entry_point}, records, output, alter)


def splice(base: Path, small: Path, wheel: str, output: Path) -> bool:
    """Write at `output` the PEX pex builds with `base`'s sources and options but another build of the project's
    wheel `wheel` (a file name, the same as in `base`), taken from `small`, a PEX pex built with it (and with
    every other distribution excluded): `base`'s records with the wheel's replaced by `small`'s. False (and
    nothing written) where that is not done."""
    base_archive, small_archive = read_archive(base.read_bytes()), read_archive(small.read_bytes())
    if base_archive is None or small_archive is None:
        return False
    prefix = f".deps/{wheel}/"
    block = [entry for entry in small_archive.entries if entry.info.filename.startswith(prefix)]
    at = [i for i, entry in enumerate(base_archive.entries) if entry.info.filename.startswith(prefix)]
    if not block or not at or at != list(range(at[0], at[-1] + 1)):
        return False
    base_distributions = json.loads(read_entry(base_archive, PEX_INFO) or b"{}").get("distributions", {})
    fingerprint = json.loads(read_entry(small_archive, PEX_INFO) or b"{}").get("distributions", {}).get(wheel)
    if wheel not in base_distributions or not fingerprint:
        return False
    records = [(base_archive, entry) for entry in base_archive.entries[: at[0]]]
    records += [(small_archive, entry) for entry in block]
    records += [(base_archive, entry) for entry in base_archive.entries[at[-1] + 1 :]]
    return rewrite(base_archive, {"distributions": dict(base_distributions, **{wheel: fingerprint})}, records, output)


def read_entry(archive: Archive, name: str) -> Optional[bytes]:
    with zipfile.ZipFile(io.BytesIO(archive.data)) as zip_file:
        try:
            return zip_file.read(name)
        except KeyError:
            return None


def rewrite(
    archive: Archive,
    changes: Dict[str, Any],
    records: List[Tuple[Archive, Entry]],
    output: Path,
    alter: bool = False,
) -> bool:
    """Write `records` as a zipapp with `archive`'s shebang, PEX-INFO changed by `changes` and the boot scripts
    given its new hash (those three written by pex's code); False (and nothing written) where that is not done."""
    names = {entry.info.filename: entry for entry in archive.entries}
    if PEX_INFO not in names or not all(name in names for name in BOOT_SCRIPTS):
        return False
    first_info = read_entry(archive, PEX_INFO) or b""
    boots = [(read_entry(archive, name) or b"").decode("utf-8") for name in BOOT_SCRIPTS]
    if json.loads(first_info).get("script") or json.loads(first_info).get("pex_path"):
        return False  # pex finds scripts (and searches a PEX path) in ways not repeated here
    made = pex_info_for(first_info, changes)
    if made is None:
        return False
    info, old_hash, new_hash = made
    replaced = {PEX_INFO: info}
    for name, text in zip(BOOT_SCRIPTS, boots):
        new_text = boot_script(text, old_hash, new_hash)
        if new_text is None:
            return False
        replaced[name] = new_text.encode("utf-8")
    head = archive.data[: min(entry.start for entry in archive.entries)]
    if head.count(b"\n") > 1:
        # An `--sh-boot` script: a zipapp's names the directory the PEX installs to by its hash; a venv's names
        # one hashed from more than that, which is left to pex.
        if json.loads(first_info).get("venv") or head.count(old_hash.encode()) != 1:
            return False
        head = head.replace(old_hash.encode(), new_hash.encode())
    if alter:
        replaced[BOOT_SCRIPTS[0]] += b"\n"
    with tempfile.TemporaryDirectory(prefix="sibling-", dir=output.parent) as work:
        fresh = written_by_pex({n: (content, names[n].info) for n, content in replaced.items()}, Path(work))
    if fresh is None or not all(same_header(e.info, names[e.info.filename].info) for e in fresh.entries):
        return False
    by_name = {entry.info.filename: entry for entry in fresh.entries}
    write(
        archive,
        head,
        [(fresh, by_name[e.info.filename]) if e.info.filename in by_name else (a, e) for a, e in records],
        output,
    )
    return True


def write(archive: Archive, head: bytes, records: List[Tuple[Archive, Entry]], output: Path) -> None:
    """A zipapp of `head` (the shebang or sh-boot script, as long as `archive`'s) and the given records, each
    copied as it is (local header, compressed data), and a central directory of theirs pointing at where they now
    are."""
    partial = output.with_name(output.name + ".partial")
    central: List[bytes] = []
    with open(partial, "wb") as out:
        out.write(head)
        for source, entry in records:
            central.append(relocated(entry.central, out.tell() - archive.shift))
            out.write(source.data[entry.start : entry.end])
        central_start = out.tell()
        directory = b"".join(central)
        out.write(directory)
        end = bytearray(archive.end)
        struct.pack_into("<2H2L", end, 8, len(records), len(records), len(directory), central_start - archive.shift)
        out.write(bytes(end))
    os.chmod(partial, os.stat(partial).st_mode | 0o111)  # as pex's chmod_plus_x
    os.replace(partial, output)
