"""One progress bar style for every long stage: samples done, samples/s and time left."""

from __future__ import annotations

import sys
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.text import Text


class RateColumn(ProgressColumn):
    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("? samples/s" if speed is None else f"{speed:.1f} samples/s", style="progress.data.speed")


@contextmanager
def progress_bar(description: str, total: int, enabled: bool = True):
    """Yields ``advance(n)``. Off (or not a terminal) it costs nothing and prints nothing."""
    if not enabled or total == 0:
        yield lambda n=1: None
        return
    console = Console(stderr=True)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), RateColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=not sys.stderr.isatty()) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)
