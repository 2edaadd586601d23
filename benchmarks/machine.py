"""What the numbers were measured on: CPU, cores, BLAS, library versions."""

from __future__ import annotations

import os
import platform
from importlib import metadata
from pathlib import Path

import numpy as np

import anykmeans


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else what ``platform`` knows)."""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown CPU"


def usable_cores() -> int:
    """The cores this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def numpy_blas() -> str:
    """NumPy's BLAS, its version, architecture and threads (from threadpoolctl), if known."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "BLAS unknown (pip install threadpoolctl)"
    blas = [info for info in threadpool_info() if info["user_api"] == "blas"]
    ours = [info for info in blas if "numpy" in info["filepath"]] or blas
    if not ours:
        return "BLAS unknown"
    info = ours[0]
    details = ", ".join(str(info[key]) for key in ("architecture", "threading_layer")
                        if info.get(key))
    return (f"{info['internal_api']} {info.get('version') or ''}".rstrip()
            + (f" ({details})" if details else "") + f", {info['num_threads']} threads")


def numpy_assignment() -> str:
    """Which assignment NumPy runs on large passes: fused (Numba's version) or standard."""
    try:
        version = metadata.version("numba")
    except metadata.PackageNotFoundError:
        return "standard (no numba)"
    if os.environ.get("NUMBA_DISABLE_JIT", "0").strip() not in ("", "0"):
        return "standard (NUMBA_DISABLE_JIT)"
    return f"fused (numba {version})"


def describe() -> dict[str, object]:
    """The machine and software, as stored in the JSON."""
    return {
        "cpu": cpu_model(),
        "cores": usable_cores(),
        "blas": numpy_blas(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numpy_assignment": numpy_assignment(),
        "anykmeans": anykmeans.__version__,
    }


def title(machine: dict[str, object]) -> str:
    """One line naming the machine, for the chart's title and the table's header."""
    assignment = machine.get("numpy_assignment")  # absent from JSON of older runs
    return (f"{machine['cores']} cores, {machine['cpu']}, BLAS: {machine['blas']}"
            + (f"; NumPy assignment: {assignment}" if assignment else ""))
