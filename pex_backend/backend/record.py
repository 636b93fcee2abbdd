"""The build record: a JSON file beside the artifacts describing every PEX this build wrote."""

from __future__ import annotations

import hashlib
import json
import os
from importlib.metadata import distributions, version
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

from packaging.utils import canonicalize_name

from pex_backend.backend.compose.built import BuiltBinary
from pex_backend.backend.config.table import PexbinConfig
from pex_backend.pex.cache_files import file_digest, size_of
from pex_backend.pex.pexinfo import pex_info, pinned_requirements
from pex_backend.pex.workers import pex_version
from pex_backend.version import __version__

from .delegate import backend_name
from .sbom import LIBRARY, sbom_name
from .wheel import WheelContents


def sha256_of(path: Path) -> str:
    """The file's sha256; for a directory layout, the sha256 of its sorted (path, file sha256) listing."""
    if path.is_dir():
        listing = "".join(
            f"{p.relative_to(path).as_posix()}\0{sha256_of(p)}\n" for p in sorted(path.rglob("*")) if p.is_file()
        )
        return hashlib.sha256(listing.encode()).hexdigest()
    return file_digest(path)


def entry(item: BuiltBinary) -> Dict[str, Any]:
    info = pex_info(item.path)
    options = item.spec.options
    return {
        "file": item.path.name,
        "entry_point": item.spec.entry_point.written,
        "runs": str(item.spec.entry_point),
        "description": options.description,
        "tags": list(options.tags),
        "sha256": item.sha256 or sha256_of(item.path),
        "size": size_of(item.path),
        "layout": options.layout,
        "interpreter_constraints": list(info.get("interpreter_constraints", [])),
        "platforms": list(options.platforms),
        "complete_platforms": list(options.complete_platforms),
        "requirements": pinned_requirements(info),
        "pex_version": info.get("build_properties", {}).get("pex_version"),
        "reused": item.reused,
        # The native executables (and checksum files) pex built of it, relative to the PEX's directory.
        "scies": [scie.as_posix() for scie in item.scies],
        "sbom": sbom_name(item.path) if options.sbom else None,
    }


def record_path(wheel: WheelContents, output_dir: Path) -> Path:
    return output_dir / f"{canonicalize_name(wheel.name).replace('-', '_')}-{wheel.version}.pexbin.json"


def distribution_of(module: str) -> Optional[Tuple[str, str]]:
    """The name and version of the installed distribution holding the top-level package of `module`; None for a
    module no distribution installed (an in-tree backend, on `backend-path`)."""
    top = module.split(".")[0]
    for dist in distributions():
        if any(f.parts[0] in (top, f"{top}.py") for f in dist.files or ()):
            return dist.metadata["Name"], dist.version
    return None


def build_tools(config: PexbinConfig, built: Sequence[BuiltBinary]) -> Dict[str, str]:
    """The distributions whose versions shape the build's bytes, by name: the backend that builds the wheel
    (setuptools, or the delegate's distribution), pex-backend, the pex that ran, and cyclonedx-python-lib when an
    SBOM is written. `pexbin verify` rebuilds with exactly these."""
    delegate = backend_name(config)
    backend = distribution_of(delegate.split(":")[0]) if delegate else ("setuptools", version("setuptools"))
    tools = dict([backend] if backend else [])
    tools.update({"pex-backend": __version__, "pex": pex_version()})
    if any(item.spec.options.sbom for item in built):
        tools[LIBRARY] = version(LIBRARY)
    return tools


def write_record(
    built: Sequence[BuiltBinary], wheel: WheelContents, directory: Path, wheel_file: Path, config: PexbinConfig
) -> Path:
    """Write the record of `built` (staged PEX files) into `directory`, a staging directory: the build puts it in
    place after the files it describes. `wheel_file` is the wheel the build returns (`wheel` is pex's copy)."""
    record = {
        "project": wheel.name,
        "version": wheel.version,
        "wheel": wheel_file.name,
        "wheel_sha256": file_digest(wheel_file),
        # What setuptools stamps the wheel's entries with, when set: `pexbin verify` rebuilds with it.
        "source_date_epoch": os.environ.get("SOURCE_DATE_EPOCH"),
        "build_tools": build_tools(config, built),
        "binaries": [entry(item) for item in built],
    }
    path = record_path(wheel, directory)
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return path


def records_naming(directory: Path, names: Set[str]) -> List[Path]:
    """The build records in `directory`, of any version, that name one of the files `names`."""
    found = []
    for path in sorted(directory.glob("*.pexbin.json")):
        try:
            files = {entry["file"] for entry in json.loads(path.read_text())["binaries"]}
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if files & names:
            found.append(path)
    return found
