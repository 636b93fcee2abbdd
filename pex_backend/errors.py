"""The two kinds of failure, and the one place that turns them into a message."""

from __future__ import annotations

import functools
import sys
from typing import Callable, TypeVar

from pex_backend.timings import step

F = TypeVar("F", bound=Callable[..., object])


class PexbinError(Exception):
    """A failure with a message meant for the user, shown without a traceback."""


class ConfigError(PexbinError):
    """What the user wrote is wrong: the table, a config setting, an input file."""

    def __init__(self, key: str, message: str) -> None:
        self.key = key
        self.message = message
        super().__init__(f"{key}: {message}" if key else message)


class BuildError(PexbinError):
    """A step of the build failed (pex, setuptools, the file system)."""


def reports_errors(func: F) -> F:
    """Turn our own errors into one `error:` line and exit status 1, as meson-python does."""

    @functools.wraps(func)
    def wrapper(*args: object, **kwargs: object) -> object:
        try:
            with step(f"the {func.__name__} hook"):
                return func(*args, **kwargs)
        except PexbinError as exc:
            print(f"pex-backend error: {exc}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None

    return wrapper  # type: ignore[return-value]
