"""The pex options the backend sets itself, by the key (or the part of the build) that owns them: an
`extra-build-args` entry that is one of them is refused."""

from __future__ import annotations

from typing import Optional

OWNED_PEX_ARGS = {
    ("-o", "--output-file"): "the output (`output-name`)",
    ("-e", "--entry-point", "-m", "-c", "--script", "--console-script", "--exe", "--executable", "--python-script"): (
        "the entry point (`entry-points`, `entry-point`, `script`, `executable`)"
    ),
    ("-D", "--sources-directory", "-P", "--package", "-M", "--module", "--project", "-r", "--requirement"): (
        "the sources (the project's wheel, `include-sources`)"
    ),
    ("--pre-resolved-dists", "--intransitive", "--exclude", "--dependency-group", "--group"): (
        "the requirements (`dependencies`, `include-requirements`)"
    ),
    (
        "--platform",
        "--complete-platform",
        "--interpreter-constraint",
        "--python",
        "--python-path",
        "--resolve-local-platforms",
    ): "the targets (`platforms`, `complete-platforms`, `interpreter-constraints`)",
    (
        "--lock",
        "--pylock",
        "--index",
        "--index-url",
        "-i",
        "--no-pypi",
        "--pypi",
        "-f",
        "--find-links",
        "--repo",
        "--use-pip-config",
        "--pip-version",
        "--constraints",
        "--venv-repository",
    ): "the resolve (`resolves`, `index-urls`, `find-links`, `pip-version`)",
    ("--layout", "--venv", "--sh-boot", "--no-sh-boot", "--scie", "--par"): (
        "the shape of the output (`layout`, `execution-mode`, `sh-boot`, `scie`)"
    ),
}


def owned_pex_arg(arg: str) -> Optional[str]:
    """What part of the build owns the pex option `arg` (`--opt`, `--opt=value` or `-oVALUE`), if any."""
    name = arg.split("=", 1)[0]
    for names, owner in OWNED_PEX_ARGS.items():
        if name in names or (not name.startswith("--") and len(name) > 2 and name[:2] in names):
            return owner
    return None
