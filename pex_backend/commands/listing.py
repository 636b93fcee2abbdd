"""What `list`, `peek` and `dependencies` print about the PEX files a project declares."""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence

from pex_backend.backend.compose.args import binary_args
from pex_backend.backend.compose.session import resolved_per_target
from pex_backend.backend.config.settings import BuildSettings
from pex_backend.backend.config.table import BINARY_FIELDS, TABLE
from pex_backend.backend.plan import BinarySpec
from pex_backend.pex.cache import BuildCache

from .workspace import Workspace

OVERRIDES = f"{TABLE}.overrides."
BINARIES = f"{TABLE}.binaries."


def listing(binaries: Sequence[BinarySpec], tags: Sequence[str], documented: bool) -> List[str]:
    """One line per PEX: name, entry point, tags; with `documented`, only described ones, each description below
    (as Pants' `list --documented`)."""
    selection = BuildSettings(tags=tuple(tags), cache_dir=None)
    shown = [b for b in binaries if selection.selects(b.options.tags)]
    if documented:
        shown = [b for b in shown if b.options.description]
    rows = [(b.name, b.entry_point.written, ",".join(b.options.tags)) for b in shown]
    widths = [max((len(row[column]) for row in rows), default=0) for column in range(2)]
    lines = []
    for binary, (name, entry_point, tag_list) in zip(shown, rows):
        lines.append(f"{name:<{widths[0]}}  {entry_point:<{widths[1]}}  {tag_list}".rstrip())
        if documented:
            lines += [f"  {line}" for line in str(binary.options.description).splitlines()]
    return lines


def origin(binary: BinarySpec, key: str) -> Dict[str, Any]:
    """Where a field's value came from: the model's default, the table, an override, the binary's own table
    (`[tool.pexbin.binaries.NAME]`) or the project's metadata; with the exact key that set it."""
    if key not in binary.origins:
        return {"origin": "default"}
    where = binary.origins[key]
    if where.startswith(OVERRIDES):
        kind = "override"
    elif where.startswith(BINARIES):
        kind = "binary"
    elif where.startswith(TABLE):
        kind = "table"
    else:
        kind = "project"
    return {"origin": kind, "key": binary.key_of(key)}


def json_value(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def peek(binary: BinarySpec) -> Dict[str, Any]:
    """The binary's final fields after defaults and overrides, each with where its value came from, and the
    options they give pex."""
    fields = {
        key: {"value": json_value(getattr(binary.options, f.name)), **origin(binary, key)}
        for key, f in BINARY_FIELDS.items()
    }
    if "output-name" in binary.origins:
        fields["output-name"] = {"value": binary.name, **origin(binary, "output-name")}
    entry_point = binary.entry_point
    return {
        "name": binary.name,
        "file": f"{binary.name}.pex",
        "entry_point": entry_point.written,
        "runs": {"console_script": entry_point.script} if entry_point.script else {"module": entry_point.module},
        "declared_at": binary.declared_at,
        "fields": dict(sorted(fields.items())),
        # The options these fields become on pex's command line (the build adds the sources and the output).
        "pex_args": binary_args(binary),
    }


def dependencies(workspace: Workspace, binary: BinarySpec, cache: Optional[BuildCache]) -> Dict[str, Any]:
    """The distributions the binary's PEX holds, per target platform, resolved as its build resolves them."""
    wheel = workspace.wheel
    resolve = binary.options.resolve
    lockfile = workspace.config.table.resolves[resolve] if resolve else None
    targets = resolved_per_target(binary, wheel, workspace.config.table, workspace.root, cache)
    return {
        "name": binary.name,
        "project": f"{wheel.name}=={wheel.version}",
        "resolved_from": f"lockfile {lockfile} (resolve {resolve!r})" if lockfile else "the package indexes",
        "excluded": list(binary.excludes),
        "targets": {label: pins for label, pins in targets},
    }


def dependencies_text(found: Dict[str, Any]) -> List[str]:
    lines = []
    for label, pins in found["targets"].items():
        lines.append(f"{found['name']}.pex for {label}, resolved from {found['resolved_from']}:")
        lines.append(f"  {found['project']} (the project's own wheel)")
        lines += [f"  {pin}" for pin in pins]
        if found["excluded"]:
            lines.append(f"  (left out: {', '.join(found['excluded'])})")
    return lines
