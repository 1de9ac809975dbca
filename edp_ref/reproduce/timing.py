"""Where the wall time of one ``edp-reproduce`` command goes, measured by the command itself.

:class:`PhaseClock` times the command's phases (set-up, data generation, the runs, the report)
and samples the machine's 1-minute load average every minute while it runs; the runs' own
processes report where their time went (:attr:`edp_ref.runner.run_folder.RunResult.phases`:
set-up, compilation, training, evaluation), summed here over the runs trained by this command.
:meth:`PhaseClock.text` is printed at the end and written into the table's or figure's Markdown;
docs/reproduction.md records measured breakdowns.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from edp_ref.benchmark.timing import load1
from edp_ref.runner.run_folder import RunResult

__all__ = ["PhaseClock"]

#: The runs' phases, as their processes report them, and what each holds.
_RUN_PHASES = {
    "setup": "loading the data, building the networks",
    "compilation": "torch.compile of the updates (first update included)",
    "training": "the updates",
    "evaluation": "the evaluations",
    "other": "checkpoints, logs",
}


class PhaseClock:
    """Wall time of a command by phase, and its load average sampled each ``every`` seconds."""

    def __init__(self, every: float = 60.0) -> None:
        self.started = time.perf_counter()
        self.wall: dict[str, float] = {}
        self.notes: dict[str, str] = {}
        self.loads = [x for x in (load1(),) if x is not None]
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, args=(every,), daemon=True)
        self._sampler.start()

    def _sample(self, every: float) -> None:
        while not self._stop.wait(every):
            load = load1()
            if load is not None:
                self.loads.append(load)

    @contextmanager
    def phase(self, name: str, note: str = "") -> Iterator[None]:
        """Add the block's wall time to phase ``name`` (``note``: what it held)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.wall[name] = self.wall.get(name, 0.0) + time.perf_counter() - start
            if note:
                self.notes[name] = note

    def stop(self) -> None:
        """Stop sampling the load."""
        self._stop.set()

    def text(self, results: Sequence[RunResult], jobs: int) -> str:
        """The breakdown so far (minutes), the runs' phases summed over ``results`` trained by
        this command, and the load averages sampled (sampling stops)."""
        self.stop()
        load = load1()
        loads = self.loads + ([load] if load is not None else [])
        trained = [r for r in results if r.phases]
        lines = ["Wall time of this command by phase (measured by edp-reproduce):"]
        for name, seconds in self.wall.items():
            note = self.notes.get(name, "")
            lines.append(f"  {name:<18}{seconds / 60:7.1f} min  {note}".rstrip())
            if name == "runs" and trained:
                lines.append(
                    f"    summed over the {len(trained)} run(s) trained here ({jobs} at a time), "
                    "their processes' wall time:"
                )
                for phase, what in _RUN_PHASES.items():
                    total = sum(r.phases.get(phase, 0.0) for r in trained)
                    lines.append(f"    {phase:<16}{total / 60:7.1f} min  {what}")
        total = time.perf_counter() - self.started
        lines.append(f"  {'total':<18}{total / 60:7.1f} min")
        if loads:
            mean = sum(loads) / len(loads)
            lines.append(
                f"1-minute load average, sampled each minute: {min(loads):.2f} to "
                f"{max(loads):.2f}, mean {mean:.2f} ({len(loads)} samples)"
            )
        return "\n".join(lines) + "\n"
