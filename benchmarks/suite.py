"""Run the problems on the implementations and turn the measurements into result rows.

A row is a dict, one per (problem, implementation), with the keys of
:data:`ROW_KEYS` (None where a measurement was not asked for or failed).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

from .implementations import Implementation
from .measure import Timing, interleaved
from .memory import peak_extra_memory
from .peers import Run
from .problems import MEMORY_TARGET, MEMORY_TARGET_BYTES, Problem

#: The reference implementation of the ratios.
REFERENCE = "scikit-learn"

ROW_KEYS = (
    "problem", "series", "n", "d", "k", "implementation",
    "ms_per_iter", "iterations", "vs_sklearn", "vs_gemm_floor", "floor_ms", "vs_floor",
    "extra_ms", "extra_vs_floor", "fit_s", "fit_iterations", "fit_vs_sklearn", "peak_extra_mb",
)

#: Appended to an implementation's name for its timed fits of one Lloyd iteration.
ONE_ITERATION = ", 1 iteration"

#: Lloyd iterations of the memory target's fit (plus the final relabelling).
MEMORY_TARGET_ITERATIONS = 1

_MB = 1 << 20


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _prepare(implementations: Sequence[Implementation], make: Callable[[Implementation], Run],
             problem: Problem, notes: list[str]) -> dict[str, Run]:
    runs = {}
    for impl in implementations:
        try:
            runs[impl.name] = make(impl)
        except Exception as exc:  # a library that cannot take the data: note it, go on
            notes.append(f"{impl.name} on {problem.name}: failed, {type(exc).__name__}: {exc}")
    return runs


def _timed(timings: dict[str, Timing], problem: Problem, what: str,
           notes: list[str]) -> dict[str, Timing]:
    for name, timing in timings.items():
        if timing.error:
            notes.append(f"{name} on {problem.name}: {what} failed, {timing.error}")
    return {name: timing for name, timing in timings.items() if not timing.error}


def run_problem(problem: Problem, implementations: Sequence[Implementation], *,
                iterations: int, repeats: int, gemm_flops: float, read_bytes: float,
                end_to_end: bool = False, memory: bool = False,
                notes: list[str]) -> list[dict]:
    """Time one problem on every implementation, interleaved; one row per implementation.

    Parameters
    ----------
    problem : Problem
    implementations : sequence of Implementation
    iterations : int
        Lloyd iterations of each timed fit (``tol=0``, ``max_iter=iterations``). Fits of
        one iteration are timed too, interleaved with them, where ``iterations`` > 1: an
        extra iteration's time is the difference over ``iterations - 1``, without what a
        fit does once (checking and centring ``X``, the final relabelling pass).
    repeats : int
        Timed fits per implementation (after one untimed warm-up round).
    gemm_flops : float
        The float32 GEMM rate: ``problem.flops / gemm_flops`` is the product's floor.
    read_bytes : float
        The memory read rate (bytes per second): the floor of an iteration is its
        product's plus one read of ``X``, ``problem.nbytes / read_bytes``.
    end_to_end : bool
        Also time ``KMeans(k, random_state=0).fit(X)`` where the library has it.
    memory : bool
        Also measure each fit's peak extra memory, in a child process per implementation.
    notes : list of str
        Appended to: failures, and fits that ran fewer iterations than asked.
    """
    X, centres = problem.data()
    runs = _prepare(implementations, lambda impl: impl.lloyd(X, centres, iterations),
                    problem, notes)
    if iterations > 1:  # named apart from the fits of ``iterations``, timed among them
        runs |= {f"{name}{ONE_ITERATION}": one for name, one in _prepare(
            [impl for impl in implementations if impl.name in runs],
            lambda impl: impl.lloyd(X, centres, 1), problem, notes).items()}
    timed = _timed(interleaved(runs, repeats), problem, "Lloyd fit", notes)
    del runs  # frees each backend's copy of the data
    lloyd = {name: timing for name, timing in timed.items()
             if not name.endswith(ONE_ITERATION)}
    fits: dict[str, Timing] = {}
    if end_to_end:
        with_fit = [impl for impl in implementations if impl.fit is not None]
        runs = _prepare(with_fit, lambda impl: impl.fit(X, problem.k), problem, notes)
        fits = _timed(interleaved(runs, repeats, warmup=False), problem, "end-to-end fit",
                      notes)
        del runs
    gemm_ms = problem.flops / gemm_flops * 1e3
    floor_ms = gemm_ms + problem.nbytes / read_bytes * 1e3
    reference = lloyd.get(REFERENCE)
    reference_fit = fits.get(REFERENCE)
    rows = []
    for name, timing in lloyd.items():
        ran = sorted(set(timing.iterations))
        if ran != [iterations]:
            notes.append(f"{name} on {problem.name} ran {'/'.join(map(str, ran))} of "
                         f"{iterations} iterations (labels stopped changing); ms/iter divides "
                         "by what it ran")
        ms = timing.median_ms_per_iteration
        row = dict.fromkeys(ROW_KEYS)
        row.update(problem=problem.name, series=problem.series, n=problem.n, d=problem.d,
                   k=problem.k, implementation=name, ms_per_iter=ms,
                   iterations=max(timing.iterations), vs_gemm_floor=ms / gemm_ms,
                   floor_ms=floor_ms, vs_floor=ms / floor_ms)
        one = timed.get(f"{name}{ONE_ITERATION}")
        if one is not None and ran == [iterations] and set(one.iterations) == {1}:
            row["extra_ms"] = ((timing.median_seconds - one.median_seconds)
                               / (iterations - 1) * 1e3)
            row["extra_vs_floor"] = row["extra_ms"] / floor_ms
        if reference is not None:
            row["vs_sklearn"] = ms / reference.median_ms_per_iteration
        if name in fits:
            row.update(fit_s=fits[name].median_seconds,
                       fit_iterations=max(fits[name].iterations))
            if reference_fit is not None:
                row["fit_vs_sklearn"] = fits[name].median_seconds / reference_fit.median_seconds
        if memory and problem.sparse:
            notes.append(f"{name} on {problem.name}: memory not measured here (sparse data: "
                         "python -m benchmarks.sparse_memory)")
        elif memory:
            measured = peak_extra_memory(name, problem, iterations)
            if "error" in measured:
                notes.append(f"{name} on {problem.name}: memory measurement failed, "
                             f"{measured['error']}")
            else:
                row["peak_extra_mb"] = measured["peak_extra_bytes"] / _MB
        _log(f"{problem.name:>20} {name:>14} {ms:10.2f} ms/iter"
             + (f"  fit {row['fit_s']:.2f} s" if row["fit_s"] is not None else "")
             + (f"  +{row['peak_extra_mb']:.0f} MB" if row["peak_extra_mb"] is not None else ""))
        rows.append(row)
    return rows


def memory_target(names: Sequence[str], notes: list[str],
                  timeout: float = 900) -> list[dict]:
    """Fit the memory target once per implementation, each in a child process.

    Returns
    -------
    list of dict
        Per implementation: ``implementation``, ``peak_extra_mb``, ``seconds``,
        ``iterations`` and ``within_target`` (extra peak under
        :data:`~benchmarks.problems.MEMORY_TARGET_BYTES`).
    """
    rows = []
    for name in names:
        measured = peak_extra_memory(name, MEMORY_TARGET, MEMORY_TARGET_ITERATIONS, timeout)
        if "error" in measured:
            notes.append(f"{name} on the memory target: failed, {measured['error']}")
            continue
        extra = measured["peak_extra_bytes"]
        rows.append({"problem": MEMORY_TARGET.name, "implementation": name,
                     "peak_extra_mb": extra / _MB, "seconds": measured["seconds"],
                     "iterations": measured["iterations"],
                     "within_target": extra < MEMORY_TARGET_BYTES})
        _log(f"{MEMORY_TARGET.name:>20} {name:>14} +{extra / _MB:.0f} MB peak "
             f"({measured['seconds']:.1f} s)")
    return rows
