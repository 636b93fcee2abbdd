"""A zipapp PEX as zip records, read as pex wrote them and written again with some records changed: the records are
copied as they are (local header, compressed data, without decompressing) and the central directory moved along.
What this module does not recognise (zip64, several disks, a comment) it refuses; the build then leaves the PEX to
pex.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

END = struct.Struct("<4s4H2LH")  # the end of central directory record
CENTRAL = struct.Struct("<4s6H3L5H2L")  # a central directory file header, before its name, extra and comment
END_SIGNATURE, CENTRAL_SIGNATURE = b"PK\x05\x06", b"PK\x01\x02"
ZIP64_SIGNATURES = (b"PK\x06\x06", b"PK\x06\x07")


class Refusal(Exception):
    """Why a PEX is not written by copy: pex builds it."""


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
    reader: zipfile.ZipFile
    """The zip read once, for the entries' contents."""


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
    reader = zipfile.ZipFile(io.BytesIO(data))  # noqa: SIM115 (over bytes in memory: nothing to close)
    position = central_start
    for info in reader.infolist():
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
    return Archive(data, entries, central_start, data[at:], shift, reader)


def readable(path: Path) -> Archive:
    archive = read_archive(path.read_bytes())
    if archive is None:
        raise Refusal(f"{path.name} is not a zip of the kind this backend rewrites (zip64, a comment, ...)")
    return archive


def read_entry(archive: Archive, name: str) -> Optional[bytes]:
    try:
        return archive.reader.read(name)
    except KeyError:
        return None


def same_header(one: zipfile.ZipInfo, other: zipfile.ZipInfo) -> bool:
    """Whether two entries agree in everything but their content."""
    fields = ("date_time", "compress_type", "external_attr", "create_system", "create_version", "extract_version")
    return all(getattr(one, f) == getattr(other, f) for f in fields) and one.flag_bits == other.flag_bits


def relocated(central: bytes, offset: int) -> bytes:
    """A central directory record pointing at a local record stored at `offset`."""
    return central[:42] + struct.pack("<L", offset) + central[46:]


def write(archive: Archive, head: bytes, records: List[Tuple[Archive, Entry]], output: Path) -> None:
    """A zipapp of `head` (the shebang or sh-boot script, as long as `archive`'s) and the given records, each
    copied as it is (local header, compressed data), and a central directory of theirs pointing at where they now
    are."""
    size = len(head) + sum(e.end - e.start + len(e.central) for _, e in records) + len(archive.end)
    if len(records) >= zipfile.ZIP_FILECOUNT_LIMIT or size > zipfile.ZIP64_LIMIT:
        # pex (Python's zipfile) writes zip64 records and extras there; this writer does not.
        raise Refusal(f"{len(records)} entries, {size} bytes: a zip that needs zip64")
    partial = output.with_name(output.name + ".partial")
    central: List[bytes] = []
    try:
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
    finally:
        partial.unlink(missing_ok=True)


def wheel_block(archive: Archive, wheel: str) -> List[int]:
    """Where the wheel's entries (a file name, under `.deps/`) are in `archive`: their indexes, one run of them, or
    `Refusal`."""
    prefix = f".deps/{wheel}/"
    at = [i for i, entry in enumerate(archive.entries) if entry.info.filename.startswith(prefix)]
    if not at or at != list(range(at[0], at[-1] + 1)):
        raise Refusal(f"{wheel} is not one run of entries")
    return at
