"""PEX-INFO read from the zip's end, as `zipfile` reads it, or left to `zipfile`."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from first_build import hello_built_fixture  # noqa: F401 (the fixture `hello_built`)
from test_reliability import PEX_FILES

from pex_backend.pex.pexinfo import pex_info, pex_info_from_the_end

INFO = json.dumps({"entry_point": "hello.cli:main", "distributions": {"cowsay-6.1-py3-none-any.whl": "x"}}).encode()


def zipped(path: Path, entries, prefix: bytes = b"", comment: bytes = b"") -> Path:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data, method in entries:
            archive.writestr(zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0)), data, compress_type=method)
        archive.comment = comment
    path.write_bytes(prefix + buffer.getvalue())
    return path


def test_the_pex_info_of_pex_files_pex_wrote(hello_built):
    for name in PEX_FILES:
        with zipfile.ZipFile(hello_built.out / name) as archive:
            assert pex_info_from_the_end(hello_built.out / name) == archive.read("PEX-INFO"), name


@pytest.mark.parametrize("method", [zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
def test_a_shebang_before_the_zip_and_names_that_end_alike(tmp_path, method):
    entries = [
        ("__main__.py", b"print(1)\n", method),
        ("PEX-INFO", INFO, method),
        ("a/PEX-INFO", b"{}", method),  # after it in the directory: found first from the end, and not taken
        ("PEX-INFO.bak", b"[]", method),
    ]
    path = zipped(tmp_path / "a.pex", entries, prefix=b"#!/usr/bin/env python3\n")
    assert pex_info_from_the_end(path) == INFO
    assert pex_info(path) == json.loads(INFO)


def test_what_it_does_not_read_is_left_to_zipfile(tmp_path):
    with_comment = zipped(tmp_path / "c.pex", [("PEX-INFO", INFO, zipfile.ZIP_STORED)], comment=b"hi")
    assert pex_info_from_the_end(with_comment) is None
    assert pex_info(with_comment) == json.loads(INFO)
    bzipped = zipped(tmp_path / "b.pex", [("PEX-INFO", INFO, zipfile.ZIP_BZIP2)])
    assert pex_info_from_the_end(bzipped) is None
    assert pex_info(bzipped) == json.loads(INFO)
    assert pex_info_from_the_end(zipped(tmp_path / "n.pex", [("a/PEX-INFO", INFO, zipfile.ZIP_STORED)])) is None
    # A changed byte of PEX-INFO: its CRC-32 differs, and zipfile says so.
    damaged = zipped(tmp_path / "d.pex", [("PEX-INFO", INFO, zipfile.ZIP_STORED)])
    data = damaged.read_bytes()
    damaged.write_bytes(data.replace(b"hello.cli", b"hallo.cli"))
    assert pex_info_from_the_end(damaged) is None
    with pytest.raises(zipfile.BadZipFile):
        pex_info(damaged)
    (tmp_path / "short.pex").write_bytes(b"PK")
    assert pex_info_from_the_end(tmp_path / "short.pex") is None
