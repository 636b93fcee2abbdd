"""Runs `pex` command lines sent on stdin (one JSON object per line), importing pex once for all of them; what they
print goes to the worker's stderr, a file `workers.PexWorkers` reads.

Started as a script by `workers.PexWorkers`: pex's command line is called through the function its `pex` console
script names, so each build is exactly what `pex ARGS` would do, minus the interpreter start and the imports (about
0.7 s of every separate `pex` run). The build imports it too, for `EARLY` and for pex's code that a shortcut runs
in the build's own process when it has no worker (`siblings.HERE`).
"""

import contextlib
import json
import os
import sys
import threading
import time
import traceback


def run(args, cwd):
    """Run one `pex` command line: its exit code. What it (and its subprocesses) print goes to the worker's log."""
    from pex.bin.pex import main

    code = 0
    try:
        os.chdir(cwd)
        main(args)
    except SystemExit as exit:
        if isinstance(exit.code, int):
            code = exit.code
        elif exit.code is not None:
            print(exit.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return code


def identify(python):
    """Have pex identify an interpreter (kept in PEX_ROOT, as any pex run keeps it): 0, or 1 if it cannot."""
    from pex.interpreter import PythonInterpreter

    try:
        PythonInterpreter.from_binary(python)
    except Exception:  # noqa: BLE001 (the pex run that needs it says why)
        return 1
    return 0


def project_part(wheel, output, compress):
    """The project's wheel as pex puts it into a zipapp PEX, without the rest of a pex run: installed as pex's
    resolver installs a pre-resolved wheel (`pex.pep_427.install_wheel_chroot`), laid out under `.deps/<wheel>/` as
    `PEXBuilder.add_distribution` lays out an installed wheel for a zipapp (a link in a `Chroot` to the installed
    directory), and zipped by pex's `Chroot.zip` as `PEXBuilder._build_zipapp` zips it. The installed wheel's
    fingerprint (PEX-INFO's `distributions` value) is written to `output` + ".fingerprint". 0, or 1 with the error
    printed. Whether this is what pex writes is proven against pex's own run (see `pex_backend.pex.parts`)."""
    import tempfile

    from pex.common import Chroot, is_pyc_file
    from pex.pep_427 import install_wheel_chroot

    name = os.path.basename(wheel)
    try:
        with tempfile.TemporaryDirectory(prefix="part-", dir=os.path.dirname(output)) as work:
            installed_dir = os.path.join(work, "installed", name)
            installed = install_wheel_chroot(wheel=wheel, destination=installed_dir)
            chroot = Chroot(os.path.join(work, "chroot"))
            chroot.symlink(installed_dir, os.path.join(".deps", name), name, compress)
            chroot.zip(output, mode="w", deterministic=True, exclude_file=is_pyc_file, compress=compress)
            with open(output + ".fingerprint", "w") as fingerprint:
                fingerprint.write(installed.fingerprint or "")
    except Exception:  # noqa: BLE001 (the build falls back to pex's run, printing this)
        traceback.print_exc()
        return 1
    return 0


def entry_maps(files, groups):
    """entry_points.txt files (name to content) as pex parses them (`Distribution.parse_entry_map`): each one's
    scripts of `groups`, group to script name to entry point. A worker has pex's parser imported (with what writes
    the project's part), where the build's own process would import it for this alone (0.05-0.08 s)."""
    from pex.dist_metadata import Distribution

    maps = {}
    for name, content in files.items():
        parsed = Distribution.parse_entry_map(content, name)
        maps[name] = {group: {k: str(v.entry_point) for k, v in parsed.get(group, {}).items()} for group in groups}
    return maps


def pex_info_for(first, changes):
    """PEX-INFO (the bytes `first`) with `changes`, with the first's hash and the new one, computed as pex computes
    them (`PexInfo`, the sha1 of the dump without a hash); None when the first is not what pex would have dumped."""
    import hashlib

    from pex.pex_info import PexInfo

    data = json.loads(first)
    old_hash = data.pop("pex_hash", None)
    unhashed = PexInfo(info=data)
    if not old_hash or hashlib.sha1(unhashed.dump().encode("utf-8")).hexdigest() != old_hash:
        return None
    unhashed.pex_hash = old_hash
    if unhashed.dump().encode("utf-8") != first:
        return None
    changed = PexInfo(info=dict(data, **changes))
    new_hash = hashlib.sha1(changed.dump().encode("utf-8")).hexdigest()
    changed.pex_hash = new_hash
    return changed.dump().encode("utf-8"), old_hash, new_hash


def interpreter_matches(constraints):
    """Whether this interpreter meets any of `constraints` (OR-ed, as pex reads them; one pex cannot parse matches
    nothing), identified in-process (`PythonInterpreter.get()` would start a subprocess)."""
    from pex.interpreter import PythonIdentity, PythonInterpreter
    from pex.interpreter_constraints import InterpreterConstraint

    interpreter = PythonInterpreter(PythonIdentity.get())
    for constraint in constraints:
        try:
            if InterpreterConstraint.matches(constraint, interpreter):
                return True
        except ValueError:  # unparseable, or a range no version is in
            continue
    return False


# The jobs a worker answers as soon as it has imported what the project's part needs, before the rest of pex.
EARLY = ("part", "identify", "entry_maps", "pex_info", "matches")


def answer(job):
    """A job's reply: its exit code (0 when done), and what pex's code gave for `entry_maps`, `pex_info` and
    `matches`."""
    if "identify" in job:
        return {"code": identify(job["identify"])}
    if "part" in job:
        return {"code": project_part(job["part"], job["output"], job["compress"])}
    # Bytes come and go as latin-1 text, which maps each byte to one character and back.
    try:
        if "entry_maps" in job:
            files = {name: text.encode("latin-1") for name, text in job["entry_maps"].items()}
            return {"code": 0, "maps": entry_maps(files, job["groups"])}
        if "pex_info" in job:
            made = pex_info_for(job["pex_info"].encode("latin-1"), job["changes"])
            return {"code": 0, "made": made and [made[0].decode("latin-1"), made[1], made[2]]}
        if "matches" in job:
            return {"code": 0, "matches": interpreter_matches(job["matches"])}
    except Exception:  # noqa: BLE001 (the build says why, from this worker's output)
        traceback.print_exc()
        return {"code": 1}
    return {"code": run(job["args"], job["cwd"])}


def serve():
    # What the project's part needs is imported before this worker says it is ready (the build starts it while
    # setuptools builds the wheel, and the part is the first job after an edit); the rest of pex, and this
    # interpreter's identity, after: pex sets itself up in the main thread alone (its SSL context), so a thread of
    # its own reads the jobs and answers the early ones at once (the part; pex's code a shortcut asks for; pex
    # identifying an interpreter, a cold build's new venv while uv installs into it), leaving pex runs to the main
    # thread.
    import encodings.cp437  # noqa: F401 (zipfile's, on its first archive)
    import queue

    import pex.common  # noqa: F401
    import pex.pep_427  # noqa: F401

    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stdout to the log as well: the channel carries replies alone
    # The jobs come on a file of the reading thread's own, with stdin emptied: a process pex forks (multiprocessing
    # closes stdin in each) would otherwise wait for the lock that thread holds on it, forever.
    incoming = os.fdopen(os.dup(0), "r")
    with open(os.devnull, "rb") as empty:
        os.dup2(empty.fileno(), 0)
    jobs = queue.Queue()
    writing = threading.Lock()

    def say(message):  # a reply (one job at a time: the pool sends the next after it), or that it is ready
        with writing:
            channel.write(json.dumps(message) + "\n")
            channel.flush()

    # What the early jobs but the part need (PEX-INFO, identifying, constraints) is imported by this thread, next:
    # the reading thread waits for it rather than import the same modules at once, which pex's circular imports
    # could deadlock.
    imported = threading.Event()

    def read():
        for line in incoming:
            job = json.loads(line)
            if any(kind in job for kind in EARLY):
                if "part" not in job:
                    imported.wait()
                say(answer(job))  # needs nothing of pex's command line
            else:
                jobs.put(job)
        jobs.put(None)

    threading.Thread(target=read, name="jobs", daemon=True).start()
    say({"ready": "part"})  # the first line: this worker can write the project's part, and soon the other early jobs
    identifying = None
    with contextlib.suppress(Exception):  # a job that cannot import them fails, and prints why
        import pex.interpreter  # noqa: F401
        import pex.interpreter_constraints  # noqa: F401
        import pex.pex_info  # noqa: F401
    imported.set()
    held = os.environ.get("PEXBIN_TEST_HOLD_PEX_IMPORT")  # for the tests: pex's import waits while it exists
    while held and os.path.exists(held):
        time.sleep(0.02)
    with contextlib.suppress(Exception):  # a pex run that cannot import pex fails, and prints why
        # Its own process identifies the interpreter (pex's, run once per PEX_ROOT), while this one imports the rest
        identifying = threading.Thread(target=identify, args=(sys.executable,), name="identify", daemon=True)
        identifying.start()
        import pex.bin.pex  # noqa: F401
    if identifying:
        identifying.join()
    say({"ready": True})  # and now any job
    for job in iter(jobs.get, None):
        say(answer(job))


if __name__ == "__main__":
    # This script's directory holds modules of pex-backend's, which must not shadow what pex imports (it is not on
    # the path at all under `-P` or PYTHONSAFEPATH).
    if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
        del sys.path[0]
    if len(sys.argv) > 1:
        sys.path.insert(0, sys.argv[1])  # a directory holding pex alone: the build cache's copy, or a link
    if sys.argv[2:] == ["copy"]:
        sys.dont_write_bytecode = True  # the copy is an entry of the build cache, checked by its manifest
    serve()
