"""Siblings by copy: a further zipapp PEX of a resolve, written from the first one pex built.

Two PEX files that pex builds from the same sources with the same options, apart from their entry point, differ in
three zip entries: `PEX-INFO` (its `entry_point`, and its `pex_hash`, the sha1 of PEX-INFO's own dump) and the two
boot scripts that embed the hash, `__main__.py` and `__pex__/__init__.py` (pex's `PEXBuilder._prepare_code`). A
sibling is the first PEX with every other entry copied as it is (its local header and compressed bytes, without
decompressing), those three written by pex's own code (`PexInfo` for PEX-INFO and its hash, `open_zip` and
`write_deterministic` for the entries), and the central directory moved along. Whether that gives exactly the
bytes pex gives is not assumed: the build proves it once per pex version and shape against a PEX pex built (see
`compose`), and anything this module does not recognise is left to pex: `derive` and `splice` then say why not, and
write nothing.
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
from typing import Any, Callable, Dict, List, Optional, Tuple

# The time pex gives every zip entry of a reproducible PEX (and our reproducible wheels, theirs).
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
PEX_INFO = "PEX-INFO"
BOOT_SCRIPTS = ("__main__.py", "__pex__/__init__.py")
END = struct.Struct("<4s4H2LH")  # the end of central directory record
CENTRAL = struct.Struct("<4s6H3L5H2L")  # a central directory file header, before its name, extra and comment
END_SIGNATURE, CENTRAL_SIGNATURE = b"PK\x05\x06", b"PK\x01\x02"
ZIP64_SIGNATURES = (b"PK\x06\x06", b"PK\x06\x07")
ENTRY_POINTS_TXT = re.compile(r"^\.deps/[^/]+/[^/]+\.dist-info/entry_points\.txt$")


class Refusal(Exception):
    """Why a PEX is not written by copy: pex builds it."""


def attempt(write: Callable[[], None]) -> Optional[str]:
    """Run a shortcut: None when it wrote its PEX, else why it did not (nothing written). pex's internals raising
    anything (a pex whose code differs from the one proven) count as a refusal; the file system's errors do not."""
    try:
        write()
    except Refusal as exc:
        return str(exc)
    except OSError:
        raise
    except Exception as exc:  # pex's code, not as proven: pex builds the PEX instead
        return f"pex's code is not what was proven ({type(exc).__name__}: {exc})"
    return None


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


def derive(first: Path, target: Target, output: Path, alter: bool = False) -> Optional[str]:
    """Write at `output` the PEX pex builds with `first`'s sources and options for `target`: None when written,
    else why not (nothing written). `alter` (for the tests alone) adds a byte to `__main__.py`, as a future pex that
    wrote it differently would."""

    def write() -> None:
        archive = readable(first)
        entry_point = entry_point_of(archive, target, console_scripts(archive) if target.console_script else {})
        if entry_point is None:
            raise Refusal(f"the console script {target.console_script} is not in exactly one distribution")
        records = [(archive, entry) for entry in archive.entries]
        rewrite(archive, {"entry_point": entry_point}, records, output, alter)

    return attempt(write)


def readable(path: Path) -> Archive:
    archive = read_archive(path.read_bytes())
    if archive is None:
        raise Refusal(f"{path.name} is not a zip of the kind this backend rewrites (zip64, a comment, ...)")
    return archive


def splice(base: Path, small: Path, wheel: str, output: Path) -> Optional[str]:
    """Write at `output` the PEX pex builds with `base`'s sources and options but another build of the project's
    wheel `wheel` (a file name, the same as in `base`), taken from `small`, a PEX pex built with it (and with
    every other distribution excluded): `base`'s records with the wheel's replaced by `small`'s. None when
    written, else why not (nothing written)."""

    def write() -> None:
        base_archive, small_archive = readable(base), readable(small)
        prefix = f".deps/{wheel}/"
        block = [entry for entry in small_archive.entries if entry.info.filename.startswith(prefix)]
        at = [i for i, entry in enumerate(base_archive.entries) if entry.info.filename.startswith(prefix)]
        if not block or not at or at != list(range(at[0], at[-1] + 1)):
            raise Refusal(f"{wheel} is not one run of entries in both PEX files")
        base_info, small_info = (json.loads(read_entry(a, PEX_INFO) or b"{}") for a in (base_archive, small_archive))
        changes = project_part(base_info, small_info, wheel)
        if changes is None:
            raise Refusal(f"PEX-INFO has fields the project's part lacks, or no {wheel}")
        records = [(base_archive, entry) for entry in base_archive.entries[: at[0]]]
        records += [(small_archive, entry) for entry in block]
        records += [(base_archive, entry) for entry in base_archive.entries[at[-1] + 1 :]]
        rewrite(base_archive, changes, records, output)

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
    made = pex_info_for(first_info, changes)
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
