"""Runs `pex` command lines sent on stdin (one JSON object per line), importing pex once for all of them.

Started as a script by `workers.PexWorkers`, never imported: pex's command line is called through the function its
`pex` console script names, so each build is exactly what `pex ARGS` would do, minus the interpreter start and the
imports (about 0.7 s of every separate `pex` run).
"""

import json
import os
import sys
import tempfile
import traceback


def run(args, cwd):
    """Run one `pex` command line; its exit code and everything it (and its subprocesses) printed."""
    from pex.bin.pex import main

    with tempfile.TemporaryFile() as log:
        sys.stdout.flush()
        sys.stderr.flush()
        saved = os.dup(1), os.dup(2)
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
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
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        log.seek(0)
        return code, log.read().decode("utf-8", "replace")


def serve():
    channel = os.fdopen(os.dup(1), "w")
    for line in sys.stdin:
        job = json.loads(line)
        code, output = run(job["args"], job["cwd"])
        channel.write(json.dumps({"code": code, "output": output}) + "\n")
        channel.flush()


if __name__ == "__main__":
    # This script's directory holds modules of pex-backend's, which must not shadow what pex imports (it is not on
    # the path at all under `-P` or PYTHONSAFEPATH).
    if sys.path and os.path.realpath(sys.path[0]) == os.path.dirname(os.path.realpath(__file__)):
        del sys.path[0]
    if len(sys.argv) > 1:
        sys.path.insert(0, sys.argv[1])  # a byte-compiled copy of the build environment's own pex
    serve()
