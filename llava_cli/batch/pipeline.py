"""The batch pipeline shared by classify and annotate: inputs -> decoded samples -> batches -> rows.

Decoding (threads, input order, bounded memory) is llava_cli.media.decode; the progress bar and its row
estimate are llava_cli.batch.progress; this module feeds decoded samples to the model in batches and
writes the rows in input order. Their names are importable from here too.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..media.decode import Sample, default_workers, iter_samples
from ..errors import is_out_of_memory
from ..output import RowWriter
from .progress import estimate_rows, progress_bar

__all__ = ["RunStats", "Sample", "default_workers", "estimate_rows", "iter_samples", "progress_bar", "run_batches"]


@dataclass
class RunStats:
    """What a batch run did, for the summary line and the sidecar."""

    written: int = 0
    errors: int = 0
    resumed: int = 0
    duplicates: int = 0  # --dedup: rows copied from a similar earlier frame, not scored
    seconds: float = 0.0

    @property
    def rows_per_s(self) -> float:
        return self.written / self.seconds if self.seconds > 0 else 0.0


def run_batches(
    samples: Iterator[Sample],
    batch_size: int,
    handle: Callable[[list[Sample]], list[dict]],
    error_row: Callable[[Sample], dict],
    writer: RowWriter,
    bar=None,
) -> RunStats:
    """Feed good samples to `handle` in batches; write its rows and error rows in input order."""
    stats = RunStats(resumed=len(writer.done_keys))
    start = time.perf_counter()
    pending: list[Sample] = []

    def handle_isolated(good: list[Sample]) -> list[dict]:
        # One sample that breaks the model (an odd size, say) must not take its batch down:
        # retry one by one and turn only the failing sample into an error row.
        try:
            return handle(good)
        except (RuntimeError, ValueError, IndexError) as exc:
            if is_out_of_memory(exc):  # the run's settings, not this input: stop with one line
                raise
            if len(good) == 1:
                where = good[0].source if good[0].frame is None else f"{good[0].source} frame {good[0].frame}"
                good[0].error = f"{where}: model failed on this input ({type(exc).__name__}: {str(exc)[:200]})"
                return []
            return [row for s in good for row in handle_isolated([s])]

    def flush() -> None:
        good = [s for s in pending if s.error is None]
        results = iter(handle_isolated(good)) if good else iter(())
        rows = [error_row(s) if s.error is not None else next(results) for s in pending]
        writer.write(rows)
        stats.written += len(rows)
        stats.errors += sum(1 for s in pending if s.error is not None)
        stats.duplicates += sum(1 for s in pending if s.error is None and s.duplicate_of is not None)
        if bar is not None:
            bar.update(len(rows))
        pending.clear()

    for sample in samples:
        pending.append(sample)
        # Error rows and --dedup copies cost the model nothing, so they don't fill a batch; the
        # length cap keeps a long static stretch of video from piling up frames in memory.
        if sum(1 for s in pending if s.needs_model) >= batch_size or len(pending) >= 4 * batch_size:
            flush()
    if pending:
        flush()
    stats.seconds = time.perf_counter() - start
    return stats
