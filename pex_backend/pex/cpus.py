"""The CPUs this process may use: its affinity (a `taskset`, a CI runner's cpuset), bounded by its cgroup's CPU
quota (a container given 2 CPUs on a 64-core host), not the host's count."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Iterator, List, Optional

CGROUP = Path("/sys/fs/cgroup")
MEMBERSHIP = Path("/proc/self/cgroup")


def usable_cpus(cgroup: Path = CGROUP, membership: Path = MEMBERSHIP) -> int:
    """How many CPUs this process may keep busy at once, at least 1."""
    if hasattr(os, "process_cpu_count"):  # 3.13+: the affinity, or PYTHON_CPU_COUNT
        count = os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        count = len(os.sched_getaffinity(0))
    else:
        count = os.cpu_count()
    quota = cpu_quota(cgroup, membership)
    if quota is not None:
        count = min(count or quota, math.ceil(quota))
    return max(1, count or 1)


def cpu_quota(cgroup: Path = CGROUP, membership: Path = MEMBERSHIP) -> Optional[float]:
    """The CPUs the cgroup CPU quota allows (the smallest on the way from this process's cgroup up to the root), or
    None without one: cgroup v2 `cpu.max` ("max" or "QUOTA PERIOD"), cgroup v1 `cpu.cfs_quota_us` (-1 for none)
    over `cpu.cfs_period_us`."""
    quotas: List[float] = []
    for directory in cgroup_directories(cgroup, membership):
        try:
            if (directory / "cpu.max").is_file():
                quota, period = ((directory / "cpu.max").read_text().split() + ["100000"])[:2]
            else:
                quota = (directory / "cpu.cfs_quota_us").read_text().strip()
                period = (directory / "cpu.cfs_period_us").read_text().strip()
            if quota != "max" and int(quota) > 0 and int(period) > 0:
                quotas.append(int(quota) / int(period))
        except (OSError, ValueError):
            continue
    return min(quotas) if quotas else None


def cgroup_directories(cgroup: Path, membership: Path) -> Iterator[Path]:
    """The directories of this process's CPU cgroup and its parents, under v2 and under v1's CPU controller."""
    paths = {"": "/", "cpu": "/"}
    try:
        for line in membership.read_text().splitlines():
            _, controllers, path = line.split(":", 2)
            if controllers == "" or "cpu" in controllers.split(","):
                paths["" if controllers == "" else "cpu"] = path
    except (OSError, ValueError):
        pass
    for mount in ("", "cpu", "cpu,cpuacct"):
        relative = Path(paths["cpu" if mount else ""].lstrip("/"))
        for part in (relative, *relative.parents):
            yield cgroup / mount / part
