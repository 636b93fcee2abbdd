"""The CycloneDX SBOM of a built PEX (`sbom = true`), written beside it as `NAME.cdx.json`.

Everything in it is read from the final PEX file (its PEX-INFO and the metadata of each distribution it holds),
so a PEX reused from the build cache or derived from a sibling gets the SBOM of what it is; the wheels' sha256
come from the resolve pex built it from. cyclonedx-python-lib is imported only when an SBOM is written.
"""

from __future__ import annotations

import email.parser
import hashlib
import io
import json
import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import Message
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Set, Tuple

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from pex_backend.backend.compose.built import BuiltBinary
from pex_backend.backend.config.table import PexbinConfig
from pex_backend.errors import BuildError, ConfigError
from pex_backend.pex.cache_files import file_digest
from pex_backend.pex.pexinfo import pex_info

from .plan import BinarySpec
from .wheel import WheelContents

LIBRARY = "cyclonedx-python-lib"
LIBRARY_VERSIONS = ">=11,<12"
SUFFIX = ".cdx.json"
PROPERTY = "pex-backend:"
# The SBOM's serial number before it is known: the number is derived from the rest of the content.
PLACEHOLDER_SERIAL = uuid.UUID(int=0)


def sbom_name(pex: Path) -> str:
    """`NAME.cdx.json` for `NAME.pex` (a file, or a directory layout): beside it, without `.pex`."""
    stem = pex.name[: -len(".pex")] if pex.name.endswith(".pex") else pex.name
    return f"{stem}{SUFFIX}"


def wants_sbom(config: PexbinConfig) -> bool:
    """Whether a binary of the table may have `sbom` on: set at its top, in an override or in a binary."""
    layers = [config.defaults, *(o.values for o in config.overrides), *(b.values for b in config.binaries)]
    return any(values.get("sbom") for values in layers)


def library_requirement() -> str:
    return f"{LIBRARY}{LIBRARY_VERSIONS}"


def check_library(binaries: Sequence[BinarySpec]) -> None:
    """Fail before anything is built when a binary has `sbom` on and the build environment lacks
    cyclonedx-python-lib (a build without isolation, which installs nothing `get_requires_for_build_wheel` asks)."""
    keys = [binary.key_of("sbom") for binary in binaries if binary.options.sbom]
    if not keys:
        return
    try:
        found: Optional[str] = version(LIBRARY)
    except PackageNotFoundError:
        found = None
    if found is None or not SpecifierSet(LIBRARY_VERSIONS).contains(found, prereleases=True):
        has = f"it has {LIBRARY} {found}" if found else "it has none"
        raise ConfigError(
            keys[0],
            f"true needs {library_requirement()} in the build environment, and {has}; build with build "
            f"isolation (which installs it), or install it there: pip install '{library_requirement()}'",
        )


@dataclass(frozen=True)
class Distribution:
    """One distribution in the PEX: its wheel, its metadata, and the sha256 of the wheel file it came from."""

    wheel: str
    name: str
    version: str
    sha256: str
    requires: Tuple[Requirement, ...]

    @property
    def key(self) -> str:
        return canonicalize_name(self.name)


def metadata_in(pex: Path, wheel: str) -> Message:
    """The METADATA of one distribution in a PEX: an installed wheel (a directory in a zipapp or a loose PEX, a
    zip in a packed one) or a wheel file (`--no-pre-install-wheels`)."""
    member = re.compile(rf"^\.deps/{re.escape(wheel)}/[^/]+\.dist-info/METADATA$")
    location = pex / ".deps" / wheel
    if pex.is_dir() and location.is_dir():
        text = next(location.glob("*.dist-info/METADATA")).read_text(encoding="utf-8")
    elif pex.is_dir():
        text = metadata_of_zip(zipfile.ZipFile(location))
    else:
        with zipfile.ZipFile(pex) as archive:
            names = [name for name in archive.namelist() if member.match(name)]
            if names:
                text = archive.read(names[0]).decode("utf-8")
            else:
                text = metadata_of_zip(zipfile.ZipFile(io.BytesIO(archive.read(f".deps/{wheel}"))))
    return email.parser.Parser().parsestr(text)


def metadata_of_zip(archive: zipfile.ZipFile) -> str:
    with archive:
        name = next(n for n in archive.namelist() if re.match(r"^[^/]+\.dist-info/METADATA$", n))
        return archive.read(name).decode("utf-8")


def distributions(pex: Path, info: Mapping, artifacts: Mapping[str, str], project: Path) -> List[Distribution]:
    """The distributions in the PEX; `project` is the project's wheel pex was given (the copy with fixed
    timestamps), so that its sha256 is the same in every build of the same sources, as the PEX is."""
    found = []
    for wheel in sorted(info.get("distributions", {})):
        if wheel == project.name:
            sha256 = file_digest(project)
        elif wheel in artifacts:
            sha256 = artifacts[wheel]
        else:
            raise BuildError(f"writing the SBOM of {pex.name}: no wheel file of the resolve is {wheel}")
        metadata = metadata_in(pex, wheel)
        requires = tuple(Requirement(text) for text in metadata.get_all("Requires-Dist") or ())
        found.append(Distribution(wheel, metadata["Name"], metadata["Version"], sha256, requires))
    return found


def marker_environments(item: BuiltBinary, project_root: Path) -> List[Dict[str, str]]:
    """The marker values of each target of the PEX, pex's own, as its resolve evaluated markers: the build
    interpreter's for a local build; those an abbreviated platform fixes (pex leaves the rest unset, and a marker on
    one takes this machine's value here); a complete platform's."""
    from pex.pep_508 import MarkerEnvironment
    from pex.platforms import PlatformSpec

    o = item.spec.options
    if not (o.platforms or o.complete_platforms):
        return [MarkerEnvironment.default().as_dict()]
    found = [MarkerEnvironment.from_platform(PlatformSpec.parse(platform)).as_dict() for platform in o.platforms]
    for path in o.complete_platforms:
        values = json.loads((project_root / path).read_text())["marker_environment"]
        found.append(MarkerEnvironment(**values).as_dict())
    return found


def applies(requirement: Requirement, extras: Iterable[str], environments: Sequence[Dict[str, str]]) -> bool:
    """Whether a requirement holds for some target, for the distribution itself or one of its extras asked for."""
    if requirement.marker is None:
        return True
    for environment in environments:
        for extra in ("", *sorted(extras)):
            if requirement.marker.evaluate({**environment, "extra": extra}):
                return True
    return False


def dependency_graph(
    roots: Sequence[Requirement], dists: Sequence[Distribution], environments: Sequence[Dict[str, str]]
) -> Tuple[Set[str], Dict[str, Set[str]]]:
    """The wheels the roots require, and for each wheel those it requires: each requirement that holds for a
    target (with the extras asked of its distribution anywhere in the graph) to every wheel of that project."""
    wheels: Dict[str, List[str]] = {}
    for dist in dists:
        wheels.setdefault(dist.key, []).append(dist.wheel)
    wanted: Dict[str, Set[str]] = {key: set() for key in wheels}

    def edges(requirements: Sequence[Requirement], extras: Set[str]) -> List[Requirement]:
        found = [r for r in requirements if canonicalize_name(r.name) in wheels and applies(r, extras, environments)]
        for requirement in found:
            wanted[canonicalize_name(requirement.name)] |= requirement.extras
        return found

    while True:  # until the extras asked of each distribution stop growing
        before = {key: set(extras) for key, extras in wanted.items()}
        root_edges = edges(roots, set())
        dist_edges = {dist.wheel: edges(dist.requires, wanted[dist.key]) for dist in dists}
        if wanted == before:
            break

    def targets(requirements: Iterable[Requirement]) -> Set[str]:
        return {wheel for r in requirements for wheel in wheels[canonicalize_name(r.name)]}

    return targets(root_edges), {wheel: targets(found) for wheel, found in dist_edges.items()}


def timestamp() -> Optional[datetime]:
    """`SOURCE_DATE_EPOCH` when set. Unset, the SBOM has no timestamp (CycloneDX makes it optional): the wall
    clock would make two builds of the same sources differ, and a made-up time would claim what is not so."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    try:
        return datetime.fromtimestamp(int(epoch), tz=timezone.utc)
    except (ValueError, OverflowError):
        raise ConfigError("SOURCE_DATE_EPOCH", f"expected whole seconds since 1970, got {epoch!r}") from None


def write_sbom(item: BuiltBinary, pex_sha256: str, project: WheelContents, project_root: Path) -> Path:
    """Write the SBOM of the staged PEX `item` beside it. `project` is the wheel pex was given, the copy with fixed
    timestamps of the one the build returns."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output import make_outputter
    from cyclonedx.schema import OutputFormat, SchemaVersion
    from packageurl import PackageURL

    from pex_backend.version import __version__

    info = pex_info(item.path)
    dists = distributions(item.path, info, item.artifacts, project.path)
    environments = marker_environments(item, project_root)
    # The PEX requires what the project does (its extras' requirements only when asked for) and the binary's own.
    roots = [Requirement(text) for text in (*project.requires_dist, *item.spec.requirements)]
    if any(dist.wheel == project.path.name for dist in dists):
        roots.append(Requirement(project.name))  # the project's own wheel
    root_edges, dist_edges = dependency_graph(roots, dists, environments)

    def purl(name: str, release: str) -> PackageURL:
        # The purl spec's pypi type: the project's name lowercased, `_` replaced by `-`.
        return PackageURL(type="pypi", name=name.lower().replace("_", "-"), version=release)

    def sha256(content: str) -> List[HashType]:
        return [HashType(alg=HashAlgorithm.SHA_256, content=content)]

    # The application is the PEX: its hash is the PEX file's sha256 (for a directory layout, the build record's
    # digest of its files), the value the build record gives, so that the SBOM names the one artifact it is of.
    application = Component(
        type=ComponentType.APPLICATION,
        name=project.name,
        version=project.version,
        purl=purl(project.name, project.version),
        bom_ref=item.path.name,
        hashes=sha256(pex_sha256),
        properties=[Property(name=f"{PROPERTY}pex-file", value=item.path.name)],
    )
    components = {
        dist.wheel: Component(
            type=ComponentType.LIBRARY,
            name=dist.name,
            version=dist.version,
            purl=purl(dist.name, dist.version),
            bom_ref=dist.wheel,
            hashes=sha256(dist.sha256),
        )
        for dist in dists
    }
    o = item.spec.options
    targets = [("interpreter-constraint", c) for c in info.get("interpreter_constraints", [])]
    targets += [("platform", p) for p in o.platforms] + [("complete-platform", p) for p in o.complete_platforms]
    pex_release = str(info.get("build_properties", {}).get("pex_version", ""))
    tools = [("pex-backend", __version__), ("pex", pex_release)]
    bom = Bom(components=components.values(), serial_number=PLACEHOLDER_SERIAL)
    bom.metadata.component = application
    bom.metadata.timestamp = timestamp()  # type: ignore[assignment]
    bom.metadata.properties = [Property(name=f"{PROPERTY}{name}", value=value) for name, value in targets]
    bom.metadata.tools.components = [
        Component(type=ComponentType.APPLICATION, name=name, version=release, purl=purl(name, release), bom_ref=name)
        for name, release in tools
    ]
    bom.register_dependency(application, [components[wheel] for wheel in sorted(root_edges)])
    for wheel, required in sorted(dist_edges.items()):
        bom.register_dependency(components[wheel], [components[w] for w in sorted(required)])

    def rendered() -> str:
        return make_outputter(bom, OutputFormat.JSON, SchemaVersion.V1_6).output_as_string(indent=2) + "\n"

    # The serial number is derived from the content, the PEX's sha256 among it: the same PEX, the same SBOM.
    bom.serial_number = uuid.uuid5(
        uuid.NAMESPACE_URL, f"{PROPERTY}sbom:{hashlib.sha256(rendered().encode()).hexdigest()}"
    )
    path = item.path.with_name(sbom_name(item.path))
    path.write_text(rendered(), encoding="utf-8")
    return path
