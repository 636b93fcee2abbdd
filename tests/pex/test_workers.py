"""pex's worker pool: never more workers than its size, and never a thread left waiting for a worker that died."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import sys
import threading
import time
import zipfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest
from conftest import run

from pex_backend.errors import BuildError
from pex_backend.pex.cpus import cpu_quota, usable_cpus
from pex_backend.pex.pool import PexWorkers
from pex_backend.pex.workers import WORKER, pex_version

COMMAND = [sys.executable, str(WORKER)]


def workers_alive() -> List[int]:
    """The pids of this process's children that run worker.py, as the system sees them."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            stat = Path("/proc", entry, "stat").read_text()
            command = Path("/proc", entry, "cmdline").read_bytes()
        except (OSError, ValueError):
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and str(WORKER).encode() in command:
            found.append(int(entry))
    return found


def in_threads(count: int, job) -> List[threading.Thread]:
    threads = [threading.Thread(target=job, args=(n,), daemon=True) for n in range(count)]
    for thread in threads:
        thread.start()
    return threads


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="counts processes through /proc")
def test_a_pool_of_two_hammered_by_eight_threads_runs_two_workers(tmp_path):
    answers: List[str] = []
    most = 0
    at_once = threading.Barrier(8)
    with PexWorkers(lambda: COMMAND, size=2) as pool:

        def job(_: int) -> None:
            at_once.wait()
            for _ in range(3):
                code, output = pool.run(["--version"], tmp_path)
                answers.append(f"{code} {output.strip()}")

        threads = in_threads(8, job)
        while any(thread.is_alive() for thread in threads):
            most = max(most, len(workers_alive()))
            time.sleep(0.01)
        assert len(pool.started) <= 2
    assert answers == [f"0 {pex_version()}"] * 24
    assert 1 <= most <= 2


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="holds pex busy reading a FIFO")
def test_threads_waiting_for_a_worker_get_a_new_one_when_every_worker_died(tmp_path):
    fifos = [tmp_path / "one.fifo", tmp_path / "two.fifo"]
    for fifo in fifos:
        os.mkfifo(fifo)
    answers: List[str] = []
    with PexWorkers(lambda: COMMAND, size=2) as pool:

        def stuck(n: int) -> None:  # pex reads requirements from a FIFO no one writes to
            try:
                pool.run(["-r", str(fifos[n]), "-o", str(tmp_path / f"{n}.pex")], tmp_path)
            except BuildError as exc:
                answers.append(str(exc))

        def waiting(_: int) -> None:
            code, output = pool.run(["--version"], tmp_path)
            answers.append(f"{code} {output.strip()}")

        busy = in_threads(2, stuck)
        writers = []
        deadline = time.monotonic() + 120
        for fifo in fifos:  # opened for writing once pex opened it for reading, and kept open: pex waits on
            while True:
                try:
                    writers.append(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
                    break
                except OSError:
                    assert time.monotonic() < deadline, "pex never opened its requirements file"
                    time.sleep(0.05)
        waiters = in_threads(4, waiting)
        time.sleep(1)
        assert answers == [] and len(pool.started) == 2
        killed = time.monotonic()
        for worker in list(pool.started):
            os.kill(worker.process.pid, signal.SIGKILL)
        for thread in busy + waiters:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in busy + waiters)
        assert time.monotonic() - killed < 30
        for fd in writers:
            os.close(fd)
    died = [answer for answer in answers if answer.startswith("pex's worker process died")]
    assert len(died) == 2, answers
    assert all("(killed by signal 9) running pex -r " in answer for answer in died)
    assert sorted(set(answers) - set(died)) == [f"0 {pex_version()}"]
    assert len(answers) == 6


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="holds pex busy reading a FIFO")
def test_quick_jobs_share_one_worker_and_only_a_job_kept_waiting_gets_a_second(tmp_path):
    """Starting a worker (importing pex) costs more than many pex runs: a job waits for a running worker to come
    free, and a second worker starts only for a job kept waiting as long as the first took to start."""
    fifo = tmp_path / "requirements.fifo"
    os.mkfifo(fifo)
    answers: List[str] = []
    with PexWorkers(lambda: COMMAND, size=2) as pool:
        at_once = threading.Barrier(3)

        def quick(_: int) -> None:
            at_once.wait()
            for _ in range(3):
                code, output = pool.run(["--version"], tmp_path)
                answers.append(f"{code} {output.strip()}")

        for thread in in_threads(3, quick):
            thread.join(timeout=120)
        assert answers == [f"0 {pex_version()}"] * 9
        assert len(pool.started) == 1 and len(pool.ran) == 1

        (busy,) = pool.started

        def held(_: int) -> None:  # pex reads requirements from a FIFO no one writes to, until its worker is killed
            try:
                pool.run(["-r", str(fifo), "-o", str(tmp_path / "never.pex")], tmp_path)
            except BuildError as exc:
                answers.append(str(exc))

        stuck = in_threads(1, held)
        deadline = time.monotonic() + 120
        while True:  # the one worker holds the FIFO open for reading: pex is busy with it
            try:
                writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError:
                assert time.monotonic() < deadline, "pex never opened its requirements file"
                time.sleep(0.05)
        asked = time.monotonic()
        assert pool.run(["--version"], tmp_path) == (0, f"{pex_version()}\n")
        assert time.monotonic() - asked >= pool.patience > 0
        assert len(pool.started) == 2 and len(pool.ran) == 2
        os.kill(busy.process.pid, signal.SIGKILL)
        stuck[0].join(timeout=60)
        assert not stuck[0].is_alive() and "(killed by signal 9) running pex -r" in answers[-1]
        os.close(writer)


def test_workers_that_die_as_they_start_are_an_error_with_their_output(tmp_path):
    answers: List[str] = []
    dying = [sys.executable, "-c", "import sys; sys.exit('no pex here')"]
    with PexWorkers(lambda: dying, size=2) as pool:

        def job(_: int) -> None:
            try:
                pool.run(["--version"], tmp_path)
            except BuildError as exc:
                answers.append(str(exc))

        threads = in_threads(6, job)
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
    assert answers == ["pex's worker process died (exit code 1) running pex --version; it printed:\nno pex here"] * 6


@pytest.mark.skipif(not shutil.which("taskset"), reason="needs taskset")
def test_one_worker_per_cpu_the_process_may_use():
    count = "from pex_backend.pex.workers import JOBS; print(JOBS)"
    assert run(["taskset", "-c", "0", sys.executable, "-c", count]).stdout == "1\n"
    assert run([sys.executable, "-c", count]).stdout == f"{len(os.sched_getaffinity(0))}\n"


def test_a_cgroup_cpu_quota_bounds_the_workers(tmp_path):
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()

    def limits(files: Dict[str, str], membership: str = "0::/\n") -> Tuple[Optional[float], int]:
        root = tmp_path / f"cgroup{len(list(tmp_path.iterdir()))}"
        for name, text in {"membership": membership, **files}.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return cpu_quota(root, root / "membership"), usable_cpus(root, root / "membership")

    assert limits({}) == (None, affinity)
    assert limits({"cpu.max": "max 100000\n"}) == (None, affinity)
    assert limits({"cpu.max": "150000 100000\n"}) == (1.5, min(affinity, 2))
    assert limits({"cpu.max": "50000 100000\n"}) == (0.5, 1)
    assert limits({"cpu.max": "6400000 100000\n"}) == (64.0, affinity)
    # Under v2, the smallest quota on the way from the process's cgroup up to the root.
    nested = {"a/cpu.max": "100000 100000\n", "a/b/cpu.max": "max 100000\n"}
    assert limits(nested, "0::/a/b\n") == (1.0, 1)
    # cgroup v1: the CPU controller's quota over its period, -1 for none.
    v1 = "4:memory:/\n2:cpu,cpuacct:/ci\n0::/\n"
    assert limits({"cpu/ci/cpu.cfs_quota_us": "-1\n", "cpu/ci/cpu.cfs_period_us": "100000\n"}, v1) == (None, affinity)
    assert limits({"cpu/ci/cpu.cfs_quota_us": "100000\n", "cpu/ci/cpu.cfs_period_us": "100000\n"}, v1) == (1.0, 1)
    # Unreadable or malformed files are no quota.
    assert limits({"cpu.max": "lots\n"}) == (None, affinity)


def test_the_project_part_does_not_wait_for_the_rest_of_pex(wheelhouse, tmp_path, monkeypatch):
    """A worker writes the project's part (the first job after an edit) as soon as it has imported what that needs,
    while the rest of pex is still importing; a pex run waits for it. A worker done with its jobs is not waited for
    at the pool's end (its interpreter tearing pex down): it is killed."""
    held = tmp_path / "hold"
    held.write_text("")
    monkeypatch.setenv("PEXBIN_TEST_HOLD_PEX_IMPORT", str(held))
    (wheel,) = wheelhouse.glob("pex_backend-*.whl")
    with PexWorkers(lambda: COMMAND, size=1, tmp=tmp_path) as pool:
        part, codes = tmp_path / "part.zip", []
        job = {"part": str(wheel), "output": str(part), "compress": True}
        (writing,) = in_threads(1, lambda _: codes.append(pool.send(job, "(the part)")[0]))
        writing.join(timeout=30)
        if writing.is_alive():
            held.unlink()
            pytest.fail("the project's part waited for pex's import")
        assert codes == [0] and f".deps/{wheel.name}/pex_backend/__init__.py" in zipfile.ZipFile(part).namelist()
        (worker,) = pool.started
        assert worker.process.pid not in pool.ready  # pex's import is held: the part did not wait for it
        answers: List[Tuple[int, str]] = []
        (version,) = in_threads(1, lambda _: answers.append(pool.run(["--version"], tmp_path)))
        version.join(timeout=1)
        assert version.is_alive() and not answers  # a pex run waits for pex
        held.unlink()
        version.join(timeout=60)
        assert answers == [(0, f"{pex_version()}\n")] and worker.process.pid in pool.ready
    assert worker.process.returncode == -signal.SIGKILL


def test_an_identification_does_not_wait_for_the_rest_of_pex(tmp_path, monkeypatch):
    """pex identifies an interpreter (a new virtual environment's, while uv installs into it) as soon as the worker
    has imported what that needs, while the rest of pex is still importing; the identity is pex's, in PEX_ROOT."""
    held = tmp_path / "hold"
    held.write_text("")
    monkeypatch.setenv("PEXBIN_TEST_HOLD_PEX_IMPORT", str(held))
    monkeypatch.setenv("PEX_ROOT", str(tmp_path / "pex_root"))
    with PexWorkers(lambda: COMMAND, size=1, tmp=tmp_path) as pool:
        (identifying,) = in_threads(1, lambda _: pool.identify(sys.executable))
        identifying.join(timeout=60)
        waited = identifying.is_alive()
        (worker,) = pool.started
        still_importing = worker.process.pid not in pool.ready
        held.unlink()
        assert not waited, "the identification waited for pex's import"
        assert still_importing
        identities = [json.loads(p.read_text()) for p in (tmp_path / "pex_root").rglob("INTERP-INFO")]
        assert sys.executable in [identity["binary"] for identity in identities]


PEX_JOBS = """
import json, sys
from pathlib import Path
from pex_backend.pex import pool as pool_module
from pex_backend.pex.pool import PexWorkers
from pex_backend.pex.workers import WORKER
if sys.argv[1] == "one":
    pool_module.JOBS = 1  # what usable_cpus() says under a CPU quota of one (its cgroup files: tested above)
work, house = Path(sys.argv[2]), sys.argv[3]
with PexWorkers(lambda: [sys.executable, str(WORKER)], size=1, tmp=work) as pool:
    args = ["cyclonedx-python-lib==11.12.0", "--no-index", "-f", house, "-o", str(work / "x.pex")]
    print(json.dumps(pool.run(args, work)))
"""


@pytest.mark.skipif(usable_cpus() < 2, reason="needs two CPUs this process may use")
def test_pex_s_own_processes_follow_the_cpus_this_process_may_use(offline_env, wheelhouse, tmp_path):
    """pex installs a resolve's wheels in a pool of processes as large as the CPUs it sees (its affinity, not a
    container's CPU quota) unless told; the pool tells it the CPUs this process may use (here 2, then 1, as under a
    quota of one CPU): given one, pex installs the eight wheels of cyclonedx-python-lib in its own process, and
    writes the same bytes."""
    outputs = {}
    for cpus in ("all", "one"):
        work = tmp_path / cpus
        work.mkdir()
        # A PEX_ROOT of its own: one that installed these wheels before installs none.
        env = {**offline_env, "PEX_VERBOSE": "1", "PYTHONPATH": str(Path(__file__).parents[2]), "PEX_ROOT": str(work)}
        code, log = json.loads(run([sys.executable, "-c", PEX_JOBS, cpus, work, wheelhouse], env=env).stdout)
        assert code == 0, log
        jobs = set(re.findall(r"Using (\d+) parallel jobs to install", log))
        outputs[cpus] = ((work / "x.pex").read_bytes(), jobs)
    assert outputs["all"][1] == {"2"}, "pex's pool, given two CPUs"
    assert outputs["one"][1] == set(), "pex's pool, given one CPU"
    assert outputs["all"][0] == outputs["one"][0]


def test_pex_s_code_in_a_worker_answers_as_in_this_process(tmp_path, monkeypatch):
    """What the shortcuts ask of pex's code (PEX-INFO, entry_points.txt) a worker answers, exactly as this process
    would (bytes that are not ASCII included), without waiting for the rest of pex to import (held here); what pex's
    code raises there comes back as an error a shortcut refuses on, and pex builds that PEX."""
    from pex.pex_info import PexInfo

    from pex_backend.pex import worker
    from pex_backend.pex.pool import PexCodeFailed
    from pex_backend.pex.siblings import HERE, SCRIPT_GROUPS, attempt

    name = ".deps/caf\u00e9-1-py3-none-any.whl/caf\u00e9-1.dist-info/entry_points.txt"
    files = {name: "[console_scripts]\ncaf\u00e9 = caf\u00e9.cli:main\n[gui_scripts]\nw = x.gui:run\n".encode()}
    data = json.loads(PexInfo.default().dump())
    info = PexInfo(info=data)
    info.pex_hash = hashlib.sha1(PexInfo(info=data).dump().encode()).hexdigest()
    first = info.dump().encode()
    changes = {"entry_point": "caf\u00e9.cli:main"}
    held = tmp_path / "hold"
    held.write_text("")
    monkeypatch.setenv("PEXBIN_TEST_HOLD_PEX_IMPORT", str(held))
    with PexWorkers(lambda: COMMAND, size=1, tmp=tmp_path) as pool:
        (asking,) = in_threads(1, lambda _: pool.entry_maps(files, SCRIPT_GROUPS))
        asking.join(timeout=60)
        if asking.is_alive():
            held.unlink()
            pytest.fail("pex's code waited for pex's import")
        assert pool.entry_maps(files, SCRIPT_GROUPS) == HERE.entry_maps(files, SCRIPT_GROUPS)
        assert pool.entry_maps(files, SCRIPT_GROUPS)[name]["console_scripts"] == {"caf\u00e9": "caf\u00e9.cli:main"}
        made = pool.pex_info_for(first, changes)
        assert made is not None and made == HERE.pex_info_for(first, changes)
        assert pool.pex_info_for(first + b" ", changes) is None  # not what pex dumps
        with pytest.raises(PexCodeFailed):
            pool.entry_maps({"x/entry_points.txt": b"an entry point in no group\n"}, SCRIPT_GROUPS)
        why = attempt(lambda: pool.entry_maps({"x/entry_points.txt": b"no group\n"}, SCRIPT_GROUPS))
        assert why and why.startswith("pex's code is not what was proven (PexCodeFailed"), why
        # Whether this interpreter meets interpreter constraints, as pex judges it here (one it cannot parse: no).
        (asking,) = in_threads(1, lambda _: pool.interpreter_matches([">=3"]))
        asking.join(timeout=60)
        if asking.is_alive():
            held.unlink()
            pytest.fail("the interpreter constraints waited for pex's import")
        for constraints in ([">=3"], ["CPython==2.7.*"], ["CPython==2.7.*", ">=3"], ["PyPy"], ["CPython+t>=3"], ["?"]):
            assert pool.interpreter_matches(constraints) is worker.interpreter_matches(constraints), constraints
        (started,) = pool.started
        assert started.process.pid not in pool.ready  # all that while the rest of pex waited to import
        held.unlink()
