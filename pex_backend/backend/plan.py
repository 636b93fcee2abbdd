"""From the config model and the built wheel to one spec per PEX, grouped by the resolve they share."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from pex_backend.backend.config.binary import BinaryOptions
from pex_backend.backend.config.load import binary_options
from pex_backend.backend.config.settings import BuildSettings
from pex_backend.backend.config.table import SCIE_KEYS, TABLE, PexbinConfig, local_science
from pex_backend.errors import ConfigError

from .entry_points import EntryPoint, binary_name, is_path, resolve
from .wheel import WheelContents


@dataclass(frozen=True)
class BinarySpec:
    """One PEX to write: its name, what it runs, its final fields and where each value came from."""

    name: str
    declared_at: str
    entry_point: EntryPoint
    options: BinaryOptions
    origins: Mapping[str, str]

    def key_of(self, field: str) -> str:
        """The key path that set `field` for this binary, for error messages."""
        origin = self.origins.get(field, TABLE)
        return origin if origin.startswith("project.") else f"{origin}.{field}"

    @property
    def requirements(self) -> Tuple[str, ...]:
        return tuple(dep for dep in self.options.dependencies if not dep.startswith("!"))

    @property
    def excludes(self) -> Tuple[str, ...]:
        return tuple(dep[1:] for dep in self.options.dependencies if dep.startswith("!"))


@dataclass(frozen=True)
class ResolveGroup:
    """Binaries whose requirements and targets are the same, so that one resolve serves them all."""

    requirements: Tuple[str, ...]
    interpreter_constraints: Tuple[str, ...]
    platforms: Tuple[str, ...]
    complete_platforms: Tuple[str, ...]
    resolve: Optional[str]
    resolve_local_platforms: Optional[bool]
    ignore_errors: bool
    include_requirements: bool
    include_sources: bool = True
    binaries: Tuple[BinarySpec, ...] = ()

    @classmethod
    def key_of(cls, binary: BinarySpec) -> ResolveGroup:
        o = binary.options
        return cls(
            binary.requirements,
            o.interpreter_constraints,
            o.platforms,
            o.complete_platforms,
            o.resolve,
            o.resolve_local_platforms,
            o.ignore_errors,
            o.include_requirements,
            o.include_sources,
        )


def field_values(
    defaults: Mapping[str, Any], layers: Sequence[Tuple[str, Mapping[str, Any]]]
) -> Tuple[Dict[str, Any], Dict[str, str]]:
    """Field values and their origins: the table's values, each replaced by later layers."""
    values = dict(defaults)
    origins = {key: TABLE for key in defaults}
    for origin, layer in layers:
        values.update(layer)
        origins.update({key: origin for key in layer})
    return values, origins


def overrides_by_entry_point(
    config: PexbinConfig, entry_points: Sequence[str]
) -> Dict[str, List[Tuple[str, Mapping[str, Any]]]]:
    """Each entry point's override layers; unknown keys and a field set twice for one entry point are errors."""
    layers: Dict[str, List[Tuple[str, Mapping[str, Any]]]] = {ep: [] for ep in entry_points}
    unused = [o.key for o in config.overrides if not set(o.entry_points) <= set(entry_points)]
    if unused:
        names = ", ".join(repr(ep) for o in config.overrides for ep in o.entry_points if ep not in entry_points)
        raise ConfigError(
            f"{TABLE}.overrides",
            f"keys name entry points that are not in `entry-points`: {names} (known: {', '.join(entry_points)})",
        )
    for override in config.overrides:
        where = f'{TABLE}.overrides."{override.key}"'
        for entry_point in override.entry_points:
            for earlier_where, earlier in layers[entry_point]:
                for key in set(earlier) & set(override.values):
                    raise ConfigError(
                        where,
                        f"field {key!r} of entry point {entry_point!r} is overridden twice: "
                        f"{earlier[key]!r} by {earlier_where} and {override.values[key]!r} here",
                    )
            layers[entry_point].append((where, override.values))
    return layers


def with_project_defaults(
    values: Dict[str, Any], origins: Dict[str, str], wheel: WheelContents, config: PexbinConfig
) -> None:
    if "interpreter-constraints" not in values and wheel.requires_python:
        values["interpreter-constraints"] = (wheel.requires_python,)
        origins["interpreter-constraints"] = "project.requires-python"
    if "resolve" not in values and config.table.default_resolve:
        values["resolve"] = config.table.default_resolve
        origins["resolve"] = f"{TABLE}.default-resolve"


def generated_binaries(config: PexbinConfig, wheel: WheelContents, project_root: Path) -> List[BinarySpec]:
    if config.table.entry_points is not None:
        declared = [(ep, f"{TABLE}.entry-points[{i}]") for i, ep in enumerate(config.table.entry_points)]
    else:
        declared = [(script, f"console script {script!r}") for script in sorted(wheel.console_scripts)]
    layers = overrides_by_entry_point(config, [ep for ep, _ in declared])
    binaries = []
    for written, key in declared:
        values, origins = field_values(config.defaults, layers[written])
        with_project_defaults(values, origins, wheel, config)
        entry_point = resolve(written, key, wheel, project_root)
        name = values.pop("output-name", None) or binary_name(entry_point)
        binaries.append(BinarySpec(name, key, entry_point, options_of(values, project_root), origins))
    return binaries


def single_binaries(config: PexbinConfig, wheel: WheelContents, project_root: Path) -> List[BinarySpec]:
    binaries = []
    for binary in config.binaries:
        where = f"{TABLE}.binaries.{binary.name}"
        values, origins = field_values(config.defaults, [(where, binary.values)])
        with_project_defaults(values, origins, wheel, config)
        name = values.pop("output-name", None) or binary.name
        if binary.executable:
            path = str((project_root / binary.executable).resolve())
            entry_point = EntryPoint(binary.executable, executable=path)
        elif binary.script:
            entry_point = EntryPoint(binary.script, script=binary.script)
        elif is_path(str(binary.entry_point)):
            entry_point = resolve(str(binary.entry_point), f"{where}.entry-point", wheel, project_root)
        else:
            entry_point = EntryPoint(str(binary.entry_point), module=binary.entry_point)
        binaries.append(BinarySpec(name, where, entry_point, options_of(values, project_root), origins))
    return binaries


def options_of(values: Dict[str, Any], project_root: Path) -> BinaryOptions:
    """The binary's fields, with a `scie-science-binary` that is a project file made absolute, as pex takes it."""
    science = local_science(values)
    if science:
        values = dict(values, **{"scie-science-binary": str((project_root / science).resolve())})
    return binary_options(values)


def plan(config: PexbinConfig, wheel: WheelContents, project_root: Path, settings: BuildSettings) -> List[BinarySpec]:
    """Every PEX this build writes, in declaration order, after tag selection."""
    binaries = generated_binaries(config, wheel, project_root) + single_binaries(config, wheel, project_root)
    by_name: Dict[str, BinarySpec] = {}
    for binary in binaries:
        if binary.name in by_name:
            raise ConfigError(
                binary.declared_at,
                f"gives the file name {binary.name!r}.pex, as {by_name[binary.name].declared_at} does; "
                "set `output-name` in an override for one of them",
            )
        by_name[binary.name] = binary
    check_platform_support(binaries, wheel)
    check_include_sources(binaries, wheel)
    warn_ineffective(binaries)
    selected = [b for b in binaries if settings.selects(b.options.tags)]
    return [single for binary in selected for single in per_platform(binary)]


def per_platform(binary: BinarySpec) -> List[BinarySpec]:
    """With `per-platform`, one binary per target platform, the platform in its name; otherwise the binary."""
    o = binary.options
    if not o.per_platform or len(o.platforms) + len(o.complete_platforms) < 2:
        return [binary]
    singles = [(platform, replace(o, platforms=(platform,), complete_platforms=())) for platform in o.platforms]
    singles += [
        (Path(path).stem, replace(o, platforms=(), complete_platforms=(path,))) for path in o.complete_platforms
    ]
    return [replace(binary, name=f"{binary.name}-{suffix}", options=options) for suffix, options in singles]


def check_platform_support(binaries: Sequence[BinarySpec], wheel: WheelContents) -> None:
    for binary in binaries:
        if not wheel.pure and (binary.options.platforms or binary.options.complete_platforms):
            key = "platforms" if binary.options.platforms else "complete-platforms"
            raise ConfigError(
                binary.key_of(key),
                f"the project's own wheel ({wheel.path.name}) is platform-specific (it has compiled code), "
                "so its PEX files can only be built for this machine; remove the foreign platforms",
            )


def check_include_sources(binaries: Sequence[BinarySpec], wheel: WheelContents) -> None:
    """A binary without the project's wheel cannot run what only the wheel has."""
    for binary in binaries:
        runs = binary.entry_point.script or binary.entry_point.module
        ours = binary.entry_point.script in wheel.console_scripts or binary.declared_at.startswith(
            (f"{TABLE}.entry-points", "console script")
        )
        if not binary.options.include_sources and runs and ours:
            raise ConfigError(
                binary.key_of("include-sources"),
                f"false leaves the project's wheel out of {binary.name}.pex, but it runs {runs!r}, which is the "
                "project's; keep the wheel, or run a requirement's `script` or an `executable`",
            )


# Fields that only do something together with another value, as pex takes them: (field, what it needs, whether
# the binary has it).
NEEDS = (
    ("venv-hermetic-scripts", 'execution-mode = "venv"', lambda b: b.options.execution_mode == "venv"),
    ("venv-site-packages-copies", 'execution-mode = "venv"', lambda b: b.options.execution_mode == "venv"),
    ("sh-boot", 'layout = "zipapp"', lambda b: b.options.layout == "zipapp"),
    ("validate-entry-point", "a module entry point (`pkg.mod:func`)", lambda b: b.entry_point.module is not None),
    *((key, "`scie`", lambda b: b.options.scie is not None) for key in SCIE_KEYS if key != "scie"),
)


def warn_ineffective(binaries: Sequence[BinarySpec]) -> None:
    """One warning per key that is set where it has no effect (pex ignores it there, as Pants lets it)."""
    warned = set()
    for binary in binaries:
        for field, needed, has in NEEDS:
            key = binary.key_of(field)
            if field in binary.origins and not has(binary) and key not in warned:
                warned.add(key)
                print(f"pex-backend: warning: {key} has no effect on {binary.name}.pex without {needed}", flush=True)


def groups(binaries: Sequence[BinarySpec]) -> List[ResolveGroup]:
    """Binaries grouped by everything their resolve depends on, in first-seen order."""
    found: Dict[ResolveGroup, List[BinarySpec]] = {}
    for binary in binaries:
        found.setdefault(ResolveGroup.key_of(binary), []).append(binary)
    return [replace(key, binaries=tuple(members)) for key, members in found.items()]
