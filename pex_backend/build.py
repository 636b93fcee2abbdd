"""What `build_wheel` does beyond setuptools: plan the PEX files and compose them, all or nothing."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Optional

from .cache import open_cache
from .compose import compose
from .config import PexbinConfig
from .inputs import check_inputs
from .plan import plan
from .record import write_record
from .settings import BuildSettings
from .wheel import read_wheel, reproducible_copy

PIP_TEMPORARY_DIRECTORY = "pip-wheel-"
MINIMUM_PEX = "pex>=2.60"


def pex_requirement(config: PexbinConfig) -> str:
    return f"pex=={config.table.pex_version}" if config.table.pex_version else MINIMUM_PEX


def reason_to_skip(config: Optional[PexbinConfig], settings: BuildSettings, wheel_directory: Path) -> Optional[str]:
    if config is None:
        return "no [tool.pexbin] table"
    if settings.skip:
        return "PEX files turned off by pexbin.skip"
    if settings.output_dir is None and wheel_directory.name.startswith(PIP_TEMPORARY_DIRECTORY):
        return "pip keeps only the wheel; set -C pexbin.output-dir=DIR (or PEXBIN_OUTPUT_DIR) to get PEX files"
    return None


def build_wheel_and_pex_files(
    build_wheel: Callable[[str], str],
    config: PexbinConfig,
    settings: BuildSettings,
    wheel_directory: Path,
    project_root: Path,
) -> str:
    """Build the wheel and every PEX in staging; only when all succeed do they replace earlier artifacts."""
    check_inputs(config, project_root)
    output_dir = settings.output_dir or wheel_directory
    staging = Path(tempfile.mkdtemp(prefix=".pexbin-wheel-", dir=wheel_directory))
    try:
        basename = build_wheel(str(staging))
        wheel = read_wheel(reproducible_copy(staging / basename, staging / "for-pex"))
        binaries = plan(config, wheel, project_root, settings)
        built = compose(binaries, wheel, config.table, project_root, output_dir, open_cache(settings.cache_dir))
        write_record(built, wheel, output_dir)
        os.replace(staging / basename, wheel_directory / basename)
        return basename
    finally:
        shutil.rmtree(staging, ignore_errors=True)
