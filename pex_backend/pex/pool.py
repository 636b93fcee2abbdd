"""The pool of pex's worker processes (`worker.py`), each importing pex once for many builds."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, BinaryIO, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

from pex_backend.errors import BuildError
from pex_backend.timings import step

from .cpus import usable_cpus
from .worker import EARLY

JOBS = usable_cpus()


class PexCodeFailed(Exception):
    """pex's code raised in a worker (what it printed): for a shortcut, pex's code is not what was proven."""


class Interpreter(NamedTuple):
    """The build interpreter as pex is told of it: `--python` and the only directory it may search."""

    python: str
    directory: str
    answers: Optional[str] = None
    """Where pex's answers about this interpreter are kept (`constraints.running_interpreter_matches`)."""


class Worker(NamedTuple):
    """A running worker, and its stdout and stderr: a file (already unlinked where the system allows) holding what
    pex printed, and why the worker died."""

    process: subprocess.Popen[str]
    log: BinaryIO
    replies: queue.Queue[Optional[str]]
    """The worker's replies, as its watcher reads them (None once it has ended)."""

    def output(self, start: int = 0) -> str:
        self.log.seek(start)
        return self.log.read().decode("utf-8", "replace")

    def size(self) -> int:
        return os.fstat(self.log.fileno()).st_size

    def close(self) -> None:
        """Let go of an ended worker's pipes and log."""
        for stream in (self.process.stdin, self.process.stdout, self.log):
            with contextlib.suppress(OSError):
                if stream:
                    stream.close()


class PexWorkers:
    """Up to `size` long-lived `pex` processes; `run` gives one build to the first worker ready for it."""

    def __init__(self, command: Callable[[], Sequence[str]], size: int = JOBS, tmp: Optional[Path] = None) -> None:
        self.command = command
        """How a worker starts, asked when the first one does."""
        self.env = {**os.environ, **dict.fromkeys(("TMPDIR", "TEMP", "TMP"), str(tmp))} if tmp else None
        """With `tmp`, the workers' temporary directory, which the caller removes: pex leaves some of its own there
        (those of the processes it forks, which never run its clean-up at exit)."""
        self.started_with: Optional[List[str]] = None
        self.size = size
        self.idle: List[Worker] = []
        """Workers ready for a job (pex imported) and given none."""
        self.partly_idle: List[Worker] = []
        """Workers ready for the early jobs alone (`worker.EARLY`: pex still importing the rest) and given no job."""
        self.every: List[Worker] = []
        """Every worker started, running or not, whose pipes and log go with the pool."""
        self.busy: Set[int] = set()
        """The workers (by process id) running a job."""
        self.started: List[Worker] = []
        """The workers running (starting, idle or busy): with `starting`, never more than `size`."""
        self.starting = 0
        self.ready: Set[int] = set()
        """The workers (by process id) that said they were ready; one that dies before is a failed start."""
        self.became_ready = 0.0
        """When a worker last said so: a job's patience counts from then at the earliest."""
        self.patience = 0.0
        """How long a job waits for a running worker to come free before a worker is started for it: as long as the
        last worker took to start (importing pex costs more than many pex runs). Waiting so never costs more than
        twice what the better choice would have."""
        self.launched: Dict[int, float] = {}
        self.changed = threading.Condition()
        """Held to change the lists above; notified when a worker becomes idle, or dies, or its place is free."""
        self.lock = threading.Lock()
        self.warming: Optional[threading.Thread] = None
        self.watching: List[threading.Thread] = []
        self.ran: Set[int] = set()
        """The workers (by process id) given a job."""

    def __enter__(self) -> PexWorkers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.warming:
            self.warming.join()  # its worker, once started, is among those ended below
        with self.changed:
            running, idle = list(self.started), self.idle + self.partly_idle
        for worker in running:
            # Not waited for while it imports pex (given no job: a no-change build) or while its interpreter exits
            # (done with its jobs: 0.05-0.1 s of tearing pex down, on the build's path); pex cleans up nothing a
            # worker needs at exit: its temporary directories are the pool's, which the caller removes.
            if worker.process.pid not in self.ran or worker in idle:
                worker.process.kill()
            elif worker.process.stdin:
                with contextlib.suppress(OSError):
                    worker.process.stdin.close()
        for worker in running:
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
                worker.process.wait()
        for watcher in self.watching:
            watcher.join()
        for worker in self.every:
            worker.close()
            with contextlib.suppress(OSError):
                os.unlink(worker.log.name)

    def start_first(self) -> None:
        """Start a worker in the background (its command worked out there too), so that it imports pex while the
        caller does something else: the build starts it before setuptools builds the wheel."""
        self.warming = threading.Thread(target=self.warm, name="pexbin-first-worker")
        self.warming.start()

    def warm(self) -> None:
        with self.changed:
            if self.started or self.starting:
                return
            self.starting += 1
        with step("starting pex's first worker"), contextlib.suppress(Exception):
            self.launch()  # should it fail, the first `run` starts one again, and fails with the reason

    def start(self) -> Worker:
        with self.lock:
            if self.started_with is None:
                self.started_with = list(self.command())
        fd, log = tempfile.mkstemp(prefix="pexbin-worker-", suffix=".log")
        try:
            reader = open(log, "rb")  # noqa: SIM115 (closed with the pool)
            with contextlib.suppress(OSError):  # Windows keeps an open file's name: removed with the pool
                os.unlink(log)
            process = subprocess.Popen(
                self.started_with, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fd, text=True, bufsize=1,
                env=self.env,
            )  # fmt: skip
        finally:
            os.close(fd)
        return Worker(process, reader, queue.Queue())

    def launch(self) -> Worker:
        """Start a worker, whose place the caller reserved (`starting`), and watch for it to say it is ready."""
        worker = None
        try:
            worker = self.start()
        finally:
            with self.changed:
                self.starting -= 1
                if worker:
                    self.started.append(worker)
                    self.every.append(worker)
                    self.launched[worker.process.pid] = time.monotonic()
                    watcher = threading.Thread(target=self.watch, args=(worker,), name="pexbin-worker-start")
                    self.watching.append(watcher)
                    watcher.start()
                self.changed.notify_all()
        return worker

    def watch(self, worker: Worker) -> None:
        """Read what a worker says, for as long as it runs: that it is ready for the project's part, then for every
        job (pex imported: then it is idle); and each job's reply, which goes to the job. At its end its place is
        free, unless a job is running there (that job fails with its output: `send`, or `take` for its start)."""
        pid = worker.process.pid
        while True:
            try:
                said = worker.process.stdout.readline() if worker.process.stdout else ""
            except (OSError, ValueError):
                said = ""
            if not said:
                break
            ready = json.loads(said).get("ready")
            if ready is None:
                worker.replies.put(said)
                continue
            with self.changed:
                if ready is True:
                    self.ready.add(pid)
                    self.became_ready = time.monotonic()
                    self.patience = self.became_ready - self.launched[pid]
                    if pid not in self.busy:  # else it goes to `idle` when its job is done
                        if worker in self.partly_idle:
                            self.partly_idle.remove(worker)
                        self.idle.append(worker)
                else:
                    self.partly_idle.append(worker)
                self.changed.notify_all()
        worker.replies.put(None)
        with contextlib.suppress(subprocess.TimeoutExpired):
            worker.process.wait(timeout=10)  # its exit code for the error, not under the lock
        with self.changed:
            if pid not in self.busy and worker in self.started:
                self.started.remove(worker)
            self.changed.notify_all()

    def take(self, what: str, part: bool = False) -> Worker:
        """The first worker ready for a job: an idle one, else whichever of those running comes free or finishes
        starting first. A worker is started for the job when none is running, or when it has waited `patience`
        with room for one more and every worker busy (one still starting would be ready before a new one)."""
        arrived, mine = time.monotonic(), None
        while True:
            with self.changed:
                worker = self.wait_for_worker(arrived, mine, what, part)
            if worker:
                return worker
            mine = self.launch()

    def wait_for_worker(self, arrived: float, mine: Optional[Worker], what: str, part: bool) -> Optional[Worker]:
        """`take`'s wait, under `changed`: an idle worker (for an early job, `part`, one partly ready will do), or
        None once a place is reserved for a new one."""
        while True:
            for idle in (self.idle, self.partly_idle) if part else (self.idle,):
                while idle:
                    worker = idle.pop()
                    if worker.process.poll() is None:
                        self.busy.add(worker.process.pid)
                        return worker
                    if worker in self.started:
                        self.started.remove(worker)  # died while idle: its place is free
            if mine and mine.process.pid in self.ready:
                mine = None  # started, and taken by another job: this one waits as any other
            if mine and mine not in self.started:
                raise self.died(mine, what)  # the worker started for this job died starting
            settling = self.starting or any(w.process.pid not in self.ready for w in self.started)
            waited = time.monotonic() - max(arrived, self.became_ready)
            if len(self.started) + self.starting < self.size and not mine and not settling:
                if not self.started or waited >= self.patience:
                    self.starting += 1
                    return None
                self.changed.wait(self.patience - waited)
            else:
                self.changed.wait()

    def died(self, worker: Worker, what: str) -> BuildError:
        """The error for a worker that ended while starting or running `pex WHAT`; its pipes and log let go."""
        code, printed = worker.process.poll(), worker.output().strip()
        worker.close()
        ended = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return BuildError(f"pex's worker process died ({ended}) running pex {what}; it printed:\n{printed}")

    def run(self, args: Sequence[str], cwd: Path) -> Tuple[int, str]:
        """Run `pex ARGS` in `cwd`: its exit code and output. pex's own pool of processes (installing a resolve's
        wheels) is as large as the CPUs this process may use, not the host's count; a `--jobs` in ARGS wins."""
        return self.send({"args": ["--jobs", str(JOBS), *args], "cwd": str(cwd)}, " ".join(args))

    def identify(self, python: str) -> None:
        """Have pex identify the interpreter `python` ahead of a run that needs it (a new virtual environment's),
        while the build does something else; should it fail, that run fails with pex's reason."""
        with contextlib.suppress(BuildError):
            self.send({"identify": python}, f"(identifying {python})")

    # pex's code a shortcut runs (`siblings.PexCode`), run by a worker, which has it imported where the build's own
    # process would import it for this alone (pex.pex_info and pex.dist_metadata: 0.05-0.1 s): `PexCodeFailed` when
    # that code raises, a BuildError when the worker dies. Bytes go and come as latin-1 text, which maps each byte to
    # one character and back.

    def entry_maps(self, files: Dict[str, bytes], groups: Sequence[str]) -> Dict[str, Dict[str, Dict[str, str]]]:
        job = {"entry_maps": {name: content.decode("latin-1") for name, content in files.items()}, "groups": groups}
        return self.pex_code(job, "parsing entry_points.txt")["maps"]

    def pex_info_for(self, first: bytes, changes: Dict[str, Any]) -> Optional[Tuple[bytes, str, str]]:
        made = self.pex_code({"pex_info": first.decode("latin-1"), "changes": changes}, "writing PEX-INFO")["made"]
        return (made[0].encode("latin-1"), made[1], made[2]) if made else None

    def interpreter_matches(self, constraints: Sequence[str]) -> bool:
        return bool(self.pex_code({"matches": list(constraints)}, "matching interpreter constraints")["matches"])

    def pex_code(self, job: Dict[str, object], what: str) -> Dict[str, Any]:
        reply, output = self.ask(job, f"({what})")
        if reply["code"] != 0:
            raise PexCodeFailed(f"{what}: {output.strip()}")
        return reply

    def send(self, job: Dict[str, object], what: str) -> Tuple[int, str]:
        reply, output = self.ask(job, what)
        return reply["code"], output

    def ask(self, job: Dict[str, object], what: str) -> Tuple[Dict[str, Any], str]:
        """The worker's reply to `job`, and what it printed meanwhile."""
        worker = self.take(what, part=any(kind in job for kind in EARLY))
        self.ran.add(worker.process.pid)
        stdin = worker.process.stdin
        assert stdin
        start = worker.size()
        try:
            stdin.write(json.dumps(job) + "\n")
            stdin.flush()
            reply = worker.replies.get()
        except OSError:
            reply = None
        if not reply:
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(timeout=10)
            with self.changed:
                self.busy.discard(worker.process.pid)
                if worker in self.started:
                    self.started.remove(worker)
                self.changed.notify_all()  # a thread waiting for a worker starts one in its place
            raise self.died(worker, what)
        output = worker.output(start)
        with self.changed:
            self.busy.discard(worker.process.pid)
            (self.idle if worker.process.pid in self.ready else self.partly_idle).append(worker)
            self.changed.notify_all()
        return json.loads(reply), output
