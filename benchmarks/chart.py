"""The results as a PNG chart (matplotlib, imported only when a chart is drawn).

One panel of grouped bars for the problems (ratio to scikit-learn's time per
iteration, or ms per iteration when scikit-learn was not run), and one panel of
lines per scaling series (ms per iteration against n or k, log-log).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .machine import title
from .suite import REFERENCE

_SERIES_AXIS = {"n": "n (points), d=32, k=64", "k": "k (clusters), n=200k, d=32"}


def _short(value: int) -> str:
    for size, suffix in ((1_000_000, "M"), (1000, "k")):
        if value >= size and value % size == 0:
            return f"{value // size}{suffix}"
    return str(value)


def _bars(ax, rows: Sequence[dict], colours: dict[str, object]) -> None:
    problems = list(dict.fromkeys(row["problem"] for row in rows))
    names = list(dict.fromkeys(row["implementation"] for row in rows))
    ratio = all(row["vs_sklearn"] is not None for row in rows)
    key = "vs_sklearn" if ratio else "ms_per_iter"
    width = 0.8 / len(names)
    for i, name in enumerate(names):
        values = {row["problem"]: row[key] for row in rows if row["implementation"] == name}
        positions = [p + (i - (len(names) - 1) / 2) * width for p in range(len(problems))]
        heights = [values.get(problem, float("nan")) for problem in problems]
        bars = ax.bar(positions, heights, width, label=name, color=colours[name])
        ax.bar_label(bars, fmt="%.2f" if ratio else "%.0f", fontsize=7, rotation=90,
                     padding=2)
    ax.set_xticks(range(len(problems)), [_problem_label(rows, p) for p in problems])
    if ratio:
        ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
        ax.set_ylabel("time per Lloyd iteration / scikit-learn's (lower is faster)")
    else:
        ax.set_ylabel("ms per Lloyd iteration (lower is faster)")
    ax.set_yscale("log")
    ax.margins(y=0.25)
    ax.set_title("Problems (float32, fixed initial centres and iterations)")
    ax.legend(fontsize=8, ncols=min(len(names), 4))


def _problem_label(rows: Sequence[dict], problem: str) -> str:
    row = next(row for row in rows if row["problem"] == problem)
    if problem.startswith("custom"):
        return problem.replace(" ", "\n", 1)
    return f"{problem}\n({row['n']:,}, {row['d']}, {row['k']})"


def _lines(ax, rows: Sequence[dict], series: str, colours: dict[str, object]) -> None:
    for name in dict.fromkeys(row["implementation"] for row in rows):
        points = sorted((row[series], row["ms_per_iter"]) for row in rows
                        if row["implementation"] == name)
        ax.plot(*zip(*points, strict=True), marker="o", label=name, color=colours[name])
    ax.set_xscale("log")
    ax.set_yscale("log")
    values = sorted({row[series] for row in rows})
    ax.set_xticks(values, [_short(value) for value in values])
    ax.set_xticks([], minor=True)
    ax.set_xlabel(_SERIES_AXIS[series])
    ax.set_ylabel("ms per Lloyd iteration")
    ax.set_title(f"Scaling in {series}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)


def draw(path: str | Path, results: dict) -> None:
    """Draw ``results`` (as written to the JSON) into the PNG file ``path``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["rows"]
    problems = [row for row in rows if row["series"] in ("standard", "custom")]
    series = [s for s in ("n", "k") if any(row["series"] == s for row in rows)]
    panels = ([problems] if problems else []) + series
    if not panels:
        raise ValueError("nothing to chart: no problem and no scaling series was run")
    names = dict.fromkeys(row["implementation"] for row in rows)
    palette = plt.get_cmap("tab10").colors
    colours = {name: palette[i % len(palette)] for i, name in enumerate(names)}
    figure, axes = plt.subplots(1, len(panels), figsize=(max(6.5 * len(panels), 9), 6),
                                squeeze=False)
    plain = matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")
    two_five = matplotlib.ticker.FuncFormatter(  # minor log ticks: label 2 and 5 only
        lambda value, _: f"{value:g}" if f"{value:e}"[0] in "25" else "")
    for ax, panel in zip(axes[0], panels, strict=True):
        if isinstance(panel, str):
            _lines(ax, [row for row in rows if row["series"] == panel], panel, colours)
        else:
            _bars(ax, panel, colours)
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(two_five)
    figure.suptitle(f"k-means Lloyd iterations: anykmeans backends, {REFERENCE} and peers\n"
                    f"{title(results['machine'])}", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
