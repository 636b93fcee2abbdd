"""What a built wheel holds: its metadata, console scripts and modules, read from the archive itself."""

from __future__ import annotations

import configparser
import email.parser
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Tuple

from pex_backend.pex.siblings import FIXED_TIME

DATA_LIB = re.compile(r"^[^/]+\.data/(?:purelib|platlib)/")


@dataclass(frozen=True)
class WheelContents:
    path: Path
    name: str
    version: str
    requires_python: Optional[str]
    requires_dist: Tuple[str, ...]
    console_scripts: Dict[str, str]
    members: Dict[str, str]
    """Installed path (as in site-packages) to the archive member holding it."""
    pure: bool

    def read_text(self, installed_path: str) -> str:
        with zipfile.ZipFile(self.path) as archive:
            return archive.read(self.members[installed_path]).decode("utf-8", "replace")


def read_wheel(path: Path) -> WheelContents:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        dist_info = next(n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info"))
        metadata = email.parser.Parser().parsestr(archive.read(f"{dist_info}/METADATA").decode("utf-8"))
        wheel_meta = email.parser.Parser().parsestr(archive.read(f"{dist_info}/WHEEL").decode("utf-8"))
        scripts: Dict[str, str] = {}
        if f"{dist_info}/entry_points.txt" in names:
            parser = configparser.ConfigParser(delimiters=("=",), interpolation=None)
            parser.optionxform = str  # type: ignore[assignment,method-assign]
            parser.read_string(archive.read(f"{dist_info}/entry_points.txt").decode("utf-8"))
            if parser.has_section("console_scripts"):
                scripts = {k.strip(): v.strip() for k, v in parser.items("console_scripts")}
    return WheelContents(
        path=path,
        name=metadata["Name"],
        version=metadata["Version"],
        requires_python=metadata.get("Requires-Python"),
        requires_dist=tuple(metadata.get_all("Requires-Dist") or ()),
        console_scripts=scripts,
        members={DATA_LIB.sub("", n): n for n in names},
        pure=wheel_meta.get("Root-Is-Purelib", "true").strip().lower() == "true",
    )


def reproducible_copy(wheel: Path, directory: Path) -> Path:
    """A copy of the wheel whose entries all carry pex's own fixed timestamp.

    Pex keeps each wheel entry's timestamp in the PEX, and setuptools takes them from the files' mtimes (which
    an sdist extraction resets), so without this two builds of the same sources would give different PEX files.
    """
    directory.mkdir(parents=True, exist_ok=True)
    copy = directory / wheel.name
    with zipfile.ZipFile(wheel) as source, zipfile.ZipFile(copy, "w") as target:
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.compress_type = info.compress_type
            entry.external_attr = info.external_attr
            entry.create_system = info.create_system
            target.writestr(entry, source.read(info))
    return copy
