"""What a built PEX holds, read from its PEX-INFO."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, Dict, List

from packaging.utils import parse_wheel_filename


def pex_info(path: Path) -> Dict[str, Any]:
    """The PEX-INFO of a zipapp PEX file or of a packed or loose PEX directory."""
    if path.is_dir():
        return json.loads((path / "PEX-INFO").read_text())
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("PEX-INFO"))


def pinned_requirements(info: Dict[str, Any]) -> List[str]:
    pins = set()
    for filename in info.get("distributions", {}):
        name, version, _, _ = parse_wheel_filename(filename)
        pins.add(f"{name}=={version}")
    return sorted(pins)
