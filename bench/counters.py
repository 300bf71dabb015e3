"""What a server spends on a request, counted by the kernel while the load runs (`perf stat`):
CPU time of all its processes and threads, system calls and context switches, each divided by
the requests answered.

Rates on this machine move 10-30% between two runs of the same code (other tenants of the
host); CPU time a request moves less, and says where a rate went: two servers at the same rate
may spend very different CPU on it, and one whose Python holds the GIL longer pays for it again
in the server's threads waiting for it (context switches, spinning). Needs `perf` with the
kernel's tracepoints (`bench/install-deps`); Linux only.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Sequence

EVENTS = {
    "task-clock": "cpu_us",  # milliseconds of CPU: times 1,000 a request, in µs
    "raw_syscalls:sys_enter": "syscalls",
    "sched:sched_switch": "switches",
}


class CounterError(RuntimeError):
    pass


class Counting:
    """`perf stat` over the given processes, from now until `stop`."""

    def __init__(self, pids: Sequence[int]) -> None:
        perf = shutil.which("perf")
        if perf is None:
            raise CounterError("perf is not installed: run bench/install-deps")
        command = [perf, "stat", "-x,", "-e", ",".join(EVENTS), "-p", ",".join(map(str, pids))]
        self._perf = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
        )

    def stop(self, requests: float) -> dict[str, float]:
        """Each count divided by `requests` (CPU in µs a request)."""
        self._perf.send_signal(signal.SIGINT)
        _, output = self._perf.communicate(timeout=30)
        return per_request(output, requests)


def per_request(output: str, requests: float) -> dict[str, float]:
    """Parse `perf stat -x,` output: value,unit,event,... a line."""
    counts: dict[str, float] = {}
    for line in output.splitlines():
        fields = line.split(",")
        if len(fields) < 3 or fields[2] not in EVENTS:
            continue
        try:
            value = float(fields[0])
        except ValueError:  # "<not supported>", "<not counted>"
            raise CounterError(f"perf could not count {fields[2]}: {line}") from None
        scale = 1000.0 if fields[2] == "task-clock" else 1.0
        counts[EVENTS[fields[2]]] = round(value * scale / max(requests, 1.0), 2)
    missing = set(EVENTS.values()) - set(counts)
    if missing:
        raise CounterError(f"perf gave no count for {sorted(missing)}: {output[-500:]}")
    return counts
