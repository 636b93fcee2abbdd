"""Runs `pex` command lines sent on stdin (one JSON object per line), importing pex once for all of them; what they
print goes to the worker's stderr, a file `workers.PexWorkers` reads.

Started as a script by `workers.PexWorkers`, never imported: pex's command line is called through the function its
`pex` console script names, so each build is exactly what `pex ARGS` would do, minus the interpreter start and the
imports (about 0.7 s of every separate `pex` run).
"""

import json
import os
import sys
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


def answer(job):
    if "identify" in job:
        return identify(job["identify"])
    if "part" in job:
        return project_part(job["part"], job["output"], job["compress"])
    return run(job["args"], job["cwd"])


def serve():
    # pex imported now, and this interpreter identified, before the first job comes: the build starts a worker
    # while setuptools builds the wheel.
    import pex.bin.pex  # noqa: F401

    identify(sys.executable)
    channel = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # stdout to the log as well: the channel carries replies alone
    channel.write(json.dumps({"ready": True}) + "\n")  # the first line: this worker can take a job
    channel.flush()
    for line in sys.stdin:
        job = json.loads(line)
        code = answer(job)
        channel.write(json.dumps({"code": code}) + "\n")
        channel.flush()


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
