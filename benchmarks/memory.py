"""Peak extra memory of one fit, measured in a fresh child process per case.

The parent runs ``python -m benchmarks.memory NAME N D K ITERATIONS``; the
child builds the problem's data, puts it on the implementation's backend,
resets the resident set's high-water mark (Linux; see :func:`_start_peak`),
runs one fixed-iteration fit, reads the high-water mark again and prints its
growth, the fit's wall time and its iterations as one JSON line.
It is host memory only: a GPU's device memory is not counted. The fit is the
first in its process, so one-time costs (thread pools, JIT compilation) count.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from .problems import Problem

#: ``ru_maxrss`` unit: KiB on Linux, bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024


def _status_bytes(field: str) -> int:
    """A ``kB`` field of ``/proc/self/status`` (Linux), in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise KeyError(field)


def _start_peak() -> int:
    """Start measuring a peak: return the baseline, in bytes.

    On Linux the resident set's high-water mark is reset to the current
    resident set (``/proc/self/clear_refs``), so that earlier peaks (library
    imports, data generation) cannot hide the fit's. Elsewhere the baseline is
    the process's peak so far, which can only under-report.
    """
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return _status_bytes("VmRSS")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


def _peak() -> int:
    """The resident set's high-water mark, in bytes."""
    try:
        return _status_bytes("VmHWM")
    except (OSError, KeyError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


def peak_extra_memory(name: str, problem: Problem, iterations: int,
                      timeout: float | None = None) -> dict[str, object]:
    """Run one fit of implementation ``name`` on ``problem`` in a child process.

    Returns
    -------
    dict
        ``peak_extra_bytes`` (the growth of the peak resident set during the
        fit), ``seconds`` and ``iterations`` of the fit; or ``error`` (the
        child's last line of stderr) if it failed.
    """
    checkout = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [checkout, os.environ.get("PYTHONPATH")])))
    command = [sys.executable, "-m", "benchmarks.memory", name,
               str(problem.n), str(problem.d), str(problem.k), str(iterations)]
    try:
        child = subprocess.run(command, capture_output=True, text=True, env=env,
                               timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if child.returncode != 0 or not child.stdout.strip():
        lines = child.stderr.strip().splitlines() or [f"exit status {child.returncode}"]
        return {"error": lines[-1]}
    return json.loads(child.stdout.strip().splitlines()[-1])


def _child(name: str, n: int, d: int, k: int, iterations: int) -> dict[str, object]:
    from .implementations import select

    implementations, notes = select([name])
    if not implementations:
        raise SystemExit(notes[0])
    X, centres = Problem(name, n, d, k).data()
    run = implementations[0].lloyd(X, centres, iterations)
    before = _start_peak()
    start = time.perf_counter()
    ran = run()
    seconds = time.perf_counter() - start
    return {"peak_extra_bytes": _peak() - before, "seconds": seconds, "iterations": ran}


if __name__ == "__main__":
    name, *numbers = sys.argv[1:]
    print(json.dumps(_child(name, *map(int, numbers))))
