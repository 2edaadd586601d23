"""The results as a text table and as JSON."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

#: Table columns: header, row key, format. Columns no row has a value for are left out.
_COLUMNS = (
    ("problem", "problem", "{}"),
    ("implementation", "implementation", "{}"),
    ("ms/iter", "ms_per_iter", "{:.2f}"),
    ("iters", "iterations", "{}"),
    ("vs sklearn", "vs_sklearn", "{:.2f}"),
    ("vs GEMM floor", "vs_gemm_floor", "{:.1f}"),
    ("floor ms", "floor_ms", "{:.2f}"),
    ("vs floor", "vs_floor", "{:.1f}"),
    ("extra ms", "extra_ms", "{:.2f}"),
    ("extra vs floor", "extra_vs_floor", "{:.1f}"),
    ("fit s", "fit_s", "{:.2f}"),
    ("fit iters", "fit_iterations", "{}"),
    ("fit vs sklearn", "fit_vs_sklearn", "{:.2f}"),
    ("peak MB", "peak_extra_mb", "{:.0f}"),
    ("s", "seconds", "{:.1f}"),
    ("< 1 GB", "within_target", "{}"),
)


def _cell(value: object, fmt: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return fmt.format(value)


def table(rows: Sequence[dict]) -> str:
    """Rows as an aligned text table, numbers right-aligned, missing values as ``-``."""
    columns = [(header, key, fmt) for header, key, fmt in _COLUMNS
               if any(row.get(key) is not None for row in rows)]
    cells = [[header for header, _, _ in columns]]
    cells += [[_cell(row.get(key), fmt) for _, key, fmt in columns] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    text_columns = {"problem", "implementation"}
    lines = []
    for line in cells:
        lines.append("  ".join(
            cell.ljust(width) if key in text_columns else cell.rjust(width)
            for cell, width, (_, key, _) in zip(line, widths, columns, strict=True)).rstrip())
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)


def geometric_means(rows: Sequence[dict]) -> dict[str, float]:
    """Per implementation, the geometric mean of ``vs_sklearn`` over the standard problems.

    Only implementations with a ratio on every standard problem that was run
    are included (the issue's target reads this number for S1-S4).
    """
    standard = [row for row in rows if row["series"] == "standard"]
    problems = {row["problem"] for row in standard}
    means = {}
    for name in dict.fromkeys(row["implementation"] for row in standard):
        ratios = [row["vs_sklearn"] for row in standard
                  if row["implementation"] == name and row["vs_sklearn"] is not None]
        if len(problems) > 1 and len(ratios) == len(problems):
            means[name] = math.exp(sum(map(math.log, ratios)) / len(ratios))
    return means


def write_json(path: str | Path, results: dict) -> None:
    """Write ``results`` (machine, settings, rows, notes) to ``path``; NaN becomes null."""

    def clean(value: object) -> object:
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [clean(item) for item in value]
        return value

    Path(path).write_text(json.dumps(clean(results), indent=1) + "\n")
