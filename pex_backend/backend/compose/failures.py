"""Pex's failures as our errors: which `[tool.pexbin]` keys a failed pex run of a group (and binary) came from."""

from __future__ import annotations

from typing import Optional

from pex_backend.backend.config.table import TABLE, TableOptions
from pex_backend.backend.plan import BinarySpec, ResolveGroup
from pex_backend.errors import PexbinError
from pex_backend.pex.failures import PexContext, failure

from .args import pip_version


def pex_failure(
    what: str, output: str, group: ResolveGroup, table: TableOptions, binary: Optional[BinarySpec] = None
) -> PexbinError:
    """The error for pex's `output` while `what` failed, naming the keys of what pex was told."""
    scie = binary and binary.options.scie
    validate = binary and binary.options.validate_entry_point
    context = PexContext(
        scie_key=binary.key_of("scie") if binary and scie else "",
        science_key=binary.key_of("scie-science-binary") if scie and binary.options.scie_science_binary else "",
        assets_key=binary.key_of("scie-assets-base-url") if scie and binary.options.scie_assets_base_url else "",
        validate_key=binary.key_of("validate-entry-point") if validate else "",
        constraints_key=group.binaries[0].key_of("interpreter-constraints"),
        constraints=group.interpreter_constraints,
        resolve=group.resolve,
        lockfile=table.resolves[group.resolve] if group.resolve else None,
        pip_version=pip_version(table) or "",
        pip_version_key=f"{TABLE}.pip-version" if table.pip_version else "",
    )
    return failure(what, output, context)
