"""The pins the tests run on agree with the environment the tests run in."""

from __future__ import annotations

from importlib.metadata import version

from conftest import PINS


def test_the_test_environment_has_the_pinned_pex():
    # Tests compare PEX files this environment's pex builds with those the build environments' pex builds.
    pins = [line.split("#")[0].strip() for line in PINS.read_text().splitlines()]
    assert f"pex=={version('pex')}" in pins
