"""Detects an encoding with a compiled dependency and says which Python ran it."""

import sys

import charset_normalizer


def run() -> None:
    best = charset_normalizer.from_bytes("Grüße aus Köln".encode("utf-8")).best()
    print(f"{best.encoding} on Python {sys.version_info[0]}.{sys.version_info[1]}")
