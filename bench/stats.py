"""Percentiles and the table the benchmark prints."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0..100); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the results table."""

    figure: str
    median: str
    tail: str
    target: str = ""
    verdict: str = ""


def check(value: float, limit: float, unit: str = "", scale: float = 1.0) -> str:
    """`ok` when under the limit, else by how much it is over (times `scale`, in `unit`)."""
    if math.isnan(value):
        return "n/a"
    return "ok" if value < limit else f"MISSED by {(value - limit) * scale:.3g}{unit}"


def table(rows: Sequence[Row]) -> str:
    """Render rows as a Markdown table (readable in a terminal and pasteable into README)."""
    head = ("figure", "median", "p99 / peak", "target", "")
    cells = [head, *((r.figure, r.median, r.tail, r.target, r.verdict) for r in rows)]
    widths = [max(len(c[i]) for c in cells) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += [
        "| " + " | ".join(c.ljust(w) for c, w in zip(cell, widths, strict=True)) + " |"
        for cell in cells[1:]
    ]
    return "\n".join(lines)


def ms(seconds: float, digits: int = 1) -> str:
    """Seconds shown as milliseconds."""
    return "n/a" if math.isnan(seconds) else f"{seconds * 1000:.{digits}f} ms"
