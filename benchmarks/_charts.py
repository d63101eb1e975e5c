"""The benchmarks' PNG charts: one figure per benchmark, drawn with matplotlib (the ``bench`` extra,
``.venv/bin/pip install -e '.[bench]'``) on its Agg backend. matplotlib is imported only when a chart is drawn, so a
benchmark without it still runs and prints its tables, and says the chart was skipped.

Every benchmark takes ``--chart PATH`` (:func:`add_option`); the default is ``<name>.png`` beside ``$BENCH_OUT``
(as ``benchmarks/run_all`` sets it) or in the temporary directory, and ``--chart ''`` draws none.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

TARGET = {"color": "tab:red", "linestyle": "--", "linewidth": 1.2}
"""How a target (100 ms, 8 calls per order, ...) is drawn."""


def default_path(name: str) -> Path:
    """``<name>.png`` in ``$BENCH_OUT``'s directory, else ``fedcore-bench-<name>.png`` in the temporary directory."""
    out = os.environ.get("BENCH_OUT")
    if out:
        return Path(out).resolve().parent / f"{name}.png"
    return Path(tempfile.gettempdir()) / f"fedcore-bench-{name}.png"


def add_option(parser: argparse.ArgumentParser, name: str) -> None:
    """``--chart PATH``: where the benchmark writes its PNG (``''``: no chart)."""
    default = default_path(name)
    parser.add_argument("--chart", type=lambda s: Path(s) if s else None, default=default,
                        help=f"the PNG chart to write (default {default}; '' for none)")


def load() -> str:
    """The load averages (1, 5, 15 minutes)."""
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def draw(path: Path | None, title: str, panels: Sequence[Callable[[Any], None]], *, note: str = "",
         width: float = 5.2, height: float = 4.0, columns: int = 0) -> None:
    """One figure of ``panels``, each an axis drawn by its callable (side by side, or ``columns`` to a row), written
    to ``path`` as a PNG; ``note`` (the run's sizes and load) goes under it with the date. Prints where it went, or
    why it did not."""
    if path is None:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(chart skipped: matplotlib is not installed; `.venv/bin/pip install -e '.[bench]'` adds it)")
        return
    columns = columns or len(panels)
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows), squeeze=False)
    for axis in axes.flat[len(panels):]:
        axis.set_visible(False)
    for axis, panel in zip(axes.flat, panels, strict=False):
        panel(axis)
        axis.grid(True, alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize="small")
    fig.suptitle(title)
    stamp = f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, load {load()}"
    fig.text(0.005, 0.005, f"{note}; {stamp}" if note else stamp, fontsize=7, color="dimgray")
    fig.tight_layout(rect=(0, 0.03 / rows, 1, 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print(f"\nchart: {path}")


def cumulative(axis: Any, times: Sequence[float], label: str, **style: Any) -> None:
    """A step curve of how many of ``times`` had happened by each moment."""
    ordered = sorted(times)
    axis.step([0.0, *ordered], range(len(ordered) + 1), where="post", label=label, **style)


def cdf(axis: Any, values: Sequence[float], label: str, **style: Any) -> None:
    """The empirical distribution of ``values``: the share (0 to 1) at or under each value."""
    ordered = sorted(values)
    if ordered:
        axis.step(ordered, [(n + 1) / len(ordered) for n in range(len(ordered))], where="post", label=label, **style)


def bars(axis: Any, labels: Sequence[str], values: Sequence[float], **style: Any) -> None:
    """Horizontal bars, the first label on top, each with its value at its end."""
    positions = range(len(labels))[::-1]
    drawn = axis.barh(list(positions), values, **style)
    axis.set_yticks(list(positions), labels, fontsize="small")
    axis.bar_label(drawn, fmt="%.2f", fontsize="x-small", padding=2)
