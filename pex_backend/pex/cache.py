"""The build cache: resolved requirements, built PEX files, the compiled copy of pex and the interpreter link,
each under a key of everything it depends on.

An entry is a directory that never changes once published: a build fills a fresh directory in its own part of
the scratch area (`tmp`), writes the entry's manifest (the size and sha256 of every file, the target of every
link) and renames the directory into place, so builds running at once never see a half-written entry (the first
to finish wins, the other uses its own copy once). Every reuse checks the entry against its manifest: a damaged or
incomplete entry is dropped and built again, never used. A build holds a shared lock on the manifest of each entry
it uses until it ends, so that `prune` takes away only entries no build is using: a build sees an entry whole or
not at all.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import shutil
import stat
import tempfile
import threading
import weakref
from pathlib import Path
from typing import Any, Dict, List, Optional, Set, Tuple

from pex_backend.bytecode import FORMAT

from .cache_files import DigestsAhead, claim_directory, file_digest, lock, remove, remove_leftovers, size_of

KINDS = ("resolves", "pex", "bases", "pex-copies", "uv-copies", "interpreters", "sibling-proofs", "part-proofs")
MANIFEST = "manifest.json"
INPUTS = "inputs.json"
SCRATCH = "tmp"


def key_of(*inputs: Any) -> str:
    """A key for JSON-able inputs; equal inputs give equal keys in every process and on every machine."""
    text = json.dumps([FORMAT, *inputs], sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:40]


@functools.cache
def backend_digest() -> str:
    """This backend's own code, so that a changed backend never reuses what an older one built."""
    digest = hashlib.sha256()
    package = Path(__file__).parents[1]
    for path in sorted(package.rglob("*.py")):
        digest.update(path.relative_to(package).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def manifest_of(directory: Path) -> Dict[str, Any]:
    """What an entry holds: each file's size and sha256, each link's target, each directory."""
    files: Dict[str, Any] = {}
    links: Dict[str, str] = {}
    directories: List[str] = []
    for root, dirs, names in os.walk(directory):
        for name in sorted(dirs + names):
            path = Path(root, name)
            relative = path.relative_to(directory).as_posix()
            if path.is_symlink():
                links[relative] = os.readlink(path)
            elif name in dirs:
                directories.append(relative)
            elif relative != MANIFEST:
                files[relative] = {"size": path.stat().st_size, "sha256": file_digest(path)}
    return {"files": files, "links": links, "directories": directories}


def damage(directory: Path, manifest: Dict[str, Any], copy: Optional[Tuple[str, Path]] = None) -> Optional[str]:
    """How the entry differs from its manifest (None when it does not); with `copy` = (name, destination), also
    copy the entry's file or directory `name` to `destination`, the copy being what was checked."""
    name, destination = copy or ("", Path())

    def copied(relative: str) -> Optional[Path]:
        if copy and relative == name:
            return destination
        return destination / relative[len(name) + 1 :] if copy and relative.startswith(f"{name}/") else None

    relative = MANIFEST
    try:
        for relative in manifest["directories"]:
            target = copied(relative)
            if not (directory / relative).is_dir():
                return f"{relative}/ is missing"
            if target:
                target.mkdir(parents=True, exist_ok=True)
        for relative, link in manifest["links"].items():
            found = os.readlink(directory / relative)
            if found != link:
                return f"{relative} points to {found}, not {link}"
            target = copied(relative)
            if target:
                os.symlink(link, target)
        for relative, expected in manifest["files"].items():
            path = directory / relative
            if not path.is_file():
                return f"{relative} is missing"
            if path.stat().st_size != expected["size"]:
                return f"{relative} size differs ({path.stat().st_size} bytes, not {expected['size']})"
            if file_digest(path, copied(relative)) != expected["sha256"]:
                return f"{relative} sha256 differs"
    except FileNotFoundError:
        return f"{relative} is missing"
    except (KeyError, TypeError, AttributeError):
        return "its manifest is unreadable"
    return None


def release(session: List[Optional[Path]], held: List[int]) -> None:
    """End a build's use of the cache: its scratch directory goes, and so do its locks."""
    if session[0] is not None:
        shutil.rmtree(session[0], ignore_errors=True)
    for fd in held:
        with contextlib.suppress(OSError):
            os.close(fd)
    held.clear()


class BuildCache:
    """One process's use of the build cache at `root`; `close` (or the process's end) lets go of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = root / f"v{FORMAT}"
        self.session: List[Optional[Path]] = [None]
        self.held: List[int] = []
        self.mutex = threading.Lock()
        self.whole: Set[Path] = set()
        """The entries this build found whole; it holds their locks, so they stay so."""
        self.slots: Dict[str, Dict[Optional[str], List[Path]]] = {}
        """For `supersede`: each kind's entries by slot, as the build first found them."""
        self.unlockable = False
        """Whether this build found that the cache's file system takes no locks (and said so)."""
        self.ahead = DigestsAhead()  # for `in_place`
        self.close = weakref.finalize(self, release, self.session, self.held)

    def path(self, kind: str, key: str) -> Path:
        return self.base / kind / key

    def fresh(self) -> Path:
        """An empty directory in this build's own part of the scratch area, on the cache's file system: to fill and
        `publish`, or to stage a build's artifacts. Whatever is left there goes when the build ends."""
        with self.mutex:
            if self.session[0] is None:
                (self.base / SCRATCH).mkdir(parents=True, exist_ok=True)
                self.session[0], fd = claim_directory(self.base / SCRATCH, "build-")
                self.held.append(fd)
            return Path(tempfile.mkdtemp(dir=self.session[0]))

    def hold(self, manifest: Path) -> Optional[int]:
        """A shared lock on an entry's manifest (waiting while `prune` takes the entry away), or None when the
        entry is not (or no longer) there."""
        try:
            fd = os.open(manifest, os.O_RDONLY)
        except OSError:
            return None
        if lock(fd, exclusive=False) is None:
            self.say_unlockable()
        try:
            still_there = os.path.samestat(os.fstat(fd), os.stat(manifest))
        except OSError:
            still_there = False
        if not still_there:
            os.close(fd)
            return None
        with self.mutex:
            self.held.append(fd)
        return fd

    def checked(self, kind: str, key: str, what: str, copy: Optional[Tuple[str, Path]] = None) -> Optional[Path]:
        """The entry for `key` when it is whole, else None: a damaged one is dropped with a notice. With `copy` =
        (name, destination), the entry's `name` is also copied to `destination`, and the copy is what is checked."""
        path = self.path(kind, key)
        if copy is None and path in self.whole:
            return path  # checked by this build, and held by it since
        if not path.is_dir():
            return None
        fd = self.hold(path / MANIFEST)
        if fd is None:
            problem = "its manifest is missing" if path.is_dir() else None
        else:
            try:
                with open(os.dup(fd), "rb") as file:  # the manifest locked, wherever its name now points
                    manifest = json.loads(file.read())
            except ValueError:
                problem = "its manifest is unreadable"
            else:
                problem = damage(path, manifest, copy)
        if problem is None and fd is not None:
            os.utime(path)  # when it was last used, for `prune --days`
            with self.mutex:
                self.whole.add(path)
            return path
        if copy:
            remove(copy[1])
        if fd is not None:
            self.let_go(fd)  # so that `drop` can take the entry's exclusive lock
        if problem:
            self.drop(path, f"{what}: {problem}")
        return None

    def checked_out(
        self, kind: str, key: str, what: str, copy: Path, present: Optional[Path]
    ) -> Optional[Tuple[Path, Path]]:
        """The entry for `key` when whole, and where its file `copy.name` is for the build: `present` (outside the
        cache) when that already holds the file (hashed there: the entry's is not read), else `copy`, a checked copy."""
        if present and self.in_place(self.path(kind, key), copy.name, present):
            return self.path(kind, key), present
        entry = self.checked(kind, key, what, copy=(copy.name, copy))
        return (entry, copy) if entry else None

    def in_place(self, entry: Path, name: str, present: Path) -> bool:
        """Whether `present` is exactly the entry's file `name` (size and sha256 by the manifest); if so, held."""
        fd = self.hold(entry / MANIFEST) if entry.is_dir() else None
        if fd is None:
            return False
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError), open(os.dup(fd), "rb") as file:
            expected, found = json.loads(file.read())["files"][name], os.lstat(present)
            if stat.S_ISREG(found.st_mode) and found.st_size == expected["size"]:
                if self.ahead.of(present) == expected["sha256"]:
                    os.utime(entry)  # when it was last used, for `prune --days`
                    return True
        self.let_go(fd)
        return False

    def let_go(self, fd: int) -> None:
        with self.mutex:
            self.held.remove(fd)
        os.close(fd)

    def say_unlockable(self) -> None:
        with self.mutex:
            said, self.unlockable = self.unlockable, True
        if not said:
            print(
                f"pex-backend: notice: the build cache's file system takes no file locks ({self.root}): builds keep "
                "what they supersede there, and `pexbin cache prune` removes nothing from it",
                flush=True,
            )

    def looks_whole(self, kind: str, key: str) -> bool:
        """Whether the entry is there with every file of its manifest at its size: a quick look (no hashing) for a
        decision `checked` confirms before anything is used."""
        path = self.path(kind, key)
        try:
            files = json.loads((path / MANIFEST).read_text())["files"]
            return all(os.stat(path / name).st_size == entry["size"] for name, entry in files.items())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return False

    def digest(self, entry: Path, name: str) -> Optional[str]:
        """The sha256 an entry's manifest gives for its file `name` (checked on reuse, computed on publishing)."""
        try:
            return json.loads((entry / MANIFEST).read_text())["files"][name]["sha256"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def drop(self, path: Path, why: str) -> None:
        """Take a damaged entry out of the cache, under its exclusive lock: left alone while another build holds it
        (that build checks what it copies out of it, and this one builds its own)."""
        dropped = self.take_away(path, unlocked=True) is not None
        found = "dropped a damaged build cache entry" if dropped else "another build holds a damaged build cache entry"
        print(f"pex-backend: {found} ({why}); building it again", flush=True)

    def supersede(self, kind: str, key: str, slot: str) -> None:
        """Take away the entries of `kind` that the entry for `key` replaces: those published with the same `slot`
        in their inputs (the same binary of the same project, built the same way from an older wheel). No later
        build asks for them; one another build holds stays (`prune` takes it later)."""
        with self.mutex:
            if kind not in self.slots:
                self.slots[kind] = {}
                for inputs in sorted((self.base / kind).glob(f"*/{INPUTS}")):
                    with contextlib.suppress(OSError, ValueError, AttributeError):
                        found = json.loads(inputs.read_text()).get("slot")
                        self.slots[kind].setdefault(found, []).append(inputs.parent)
            older = [entry for entry in self.slots[kind].get(slot, []) if entry.name != key]
            self.slots[kind][slot] = [self.path(kind, key)]
        for entry in older:
            self.take_away(entry)

    def take_away(self, entry: Path, unlocked: bool = False) -> Optional[int]:
        """Remove an entry no build holds, renamed aside under its exclusive lock first: its size, or None when a
        build holds it, or when the lock cannot be taken at all (unless `unlocked`, for an entry no build can use)."""
        try:
            fd: Optional[int] = os.open(entry / MANIFEST, os.O_RDWR)
        except OSError:
            fd = None  # a damaged entry, or an older format's directory
        try:
            if fd is not None:
                locked = lock(fd, exclusive=True, wait=False)
                if locked is False or (locked is None and not unlocked):
                    return None
                with contextlib.suppress(OSError):
                    if not os.path.samestat(os.fstat(fd), os.stat(entry / MANIFEST)):
                        return 0  # taken away (and published again) while this waited for the lock
            size = size_of(entry)
            aside = self.fresh() / "taken-away"
            try:
                os.rename(entry, aside)
            except OSError:
                return 0  # another build took it away first
        finally:
            if fd is not None:
                os.close(fd)
        shutil.rmtree(aside, ignore_errors=True)
        return size

    def publish(self, filled: Path, kind: str, key: str, inputs: Any) -> Path:
        """Make a filled directory the entry for `key`, with its manifest, and hold it for this build. If another
        build published it first, theirs stays and this build uses its own copy from the scratch area."""
        (filled / INPUTS).write_text(json.dumps(inputs, indent=2, sort_keys=True) + "\n")
        (filled / MANIFEST).write_text(json.dumps(manifest_of(filled), indent=1, sort_keys=True) + "\n")
        self.hold(filled / MANIFEST)  # the lock follows the file through the rename
        destination = self.path(kind, key)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(filled, destination)
        except OSError:
            if not destination.is_dir():
                raise
            return filled
        return destination


def open_cache(root: Optional[Path]) -> Optional[BuildCache]:
    """The cache at `root`, or None (with a notice) when it is turned off or cannot be written. What killed builds
    left in its scratch area is removed."""
    if root is None:
        return None
    try:
        (root / f"v{FORMAT}" / SCRATCH).mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"pex-backend: not caching builds, {root} cannot be written ({exc.strerror})", flush=True)
        return None
    remove_leftovers(root / f"v{FORMAT}" / SCRATCH, "build-")
    return BuildCache(root)
