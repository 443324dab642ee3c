"""A resumable, parallel driver that turns corpus work items into a prepared corpus.

Every corpus source (the music21 corpus, a MIDI folder, ...) only has to list small
picklable jobs and supply a top-level `convert_fn(job) -> (symusic.Score, PieceRecord)`.
This module runs them in worker processes, writes `midi/<id>.mid` then `records/<id>.json`
(the record last, so its existence marks a finished piece and a rerun skips it), counts
every failure by reason instead of aborting, and ends with `pieces.jsonl` and
`report.json`.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ..fileio import atomic_write_bytes, atomic_write_json
from .records import PieceRecord, write_index

log = logging.getLogger(__name__)

PIECE_TIMEOUT_S = 300  # one pathological piece must not stall a whole run
_INFLIGHT_PER_WORKER = 4  # bounded submission window: low memory, precise crash blame
_MAX_EXAMPLES = 5  # example ids kept per failure reason in report.json


class SkipPiece(Exception):
    """Raised by a convert function for input that is valid but not usable (a reason)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PieceTimeout(Exception):
    """A single piece took longer than the per-piece time limit."""


class Job(Protocol):
    """A work item: small, picklable, with an `id` unique in the corpus."""

    id: str


ConvertFn = Callable[[Any], "tuple[Any, PieceRecord]"]
ProgressFn = Callable[[int, int], None]


@dataclass
class PrepareReport:
    """What a preparation run did; written to `report.json`."""

    total_jobs: int = 0
    converted: int = 0
    already_done: int = 0
    skipped: dict[str, int] = field(default_factory=dict)  # SkipPiece reason -> count
    failed: dict[str, int] = field(default_factory=dict)  # error category -> count
    failed_examples: dict[str, list[str]] = field(default_factory=dict)  # category -> ids
    pieces_in_index: int = 0
    wall_time_s: float = 0.0
    workers: int = 1

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    @property
    def n_failed(self) -> int:
        return sum(self.failed.values())


def error_category(exc: BaseException) -> str:
    """A short, count-friendly reason: exception class + message with numbers/quotes masked."""
    msg = str(exc).splitlines()[0] if str(exc) else ""
    msg = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", msg)
    msg = re.sub(r"\d+(\.\d+)?", "N", msg)
    msg = re.sub(r"\s+", " ", msg).strip()[:80]
    name = type(exc).__name__
    return f"{name}: {msg}" if msg else name


def _on_alarm(signum: int, frame: Any) -> None:
    raise PieceTimeout(f"piece took longer than {PIECE_TIMEOUT_S} s")


def convert_and_write(
    convert_fn: ConvertFn, job: Any, out_dir: str, timeout_s: int = PIECE_TIMEOUT_S
) -> tuple[str, str, str]:
    """Convert one job and write its MIDI then its record; never raises.

    Returns (id, status, reason) with status 'converted', 'skipped' or 'failed'. Runs in
    a worker process; SIGALRM bounds the time one piece may take (POSIX only).
    """
    use_alarm = (
        timeout_s > 0
        and hasattr(signal, "SIGALRM")
        and threading.current_thread() is threading.main_thread()
    )
    if use_alarm:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(timeout_s)
    try:
        score, record = convert_fn(job)
        if record.id != job.id:
            raise ValueError(f"record id {record.id!r} differs from job id {job.id!r}")
        out = Path(out_dir)
        atomic_write_bytes(out / record.midi_path, score.dumps_midi())
        atomic_write_json(out / "records" / f"{record.id}.json", asdict(record))
        return job.id, "converted", ""
    except SkipPiece as exc:
        return job.id, "skipped", exc.reason
    except Exception as exc:  # every failure is counted, never fatal
        log.debug("piece %s failed", job.id, exc_info=True)
        return job.id, "failed", error_category(exc)
    finally:
        if use_alarm:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)


def pending_jobs(out_dir: str | Path, jobs: Sequence[Any]) -> tuple[list[Any], int]:
    """Jobs without a finished record (resume), and how many were already done."""
    ids = [j.id for j in jobs]
    if len(set(ids)) != len(ids):
        dupes = sorted(i for i, n in Counter(ids).items() if n > 1)
        raise ValueError(f"duplicate job ids: {', '.join(dupes[:5])}")
    records = Path(out_dir) / "records"
    done = {p.stem for p in records.glob("*.json")} if records.is_dir() else set()
    todo = [j for j in jobs if j.id not in done]
    return todo, len(jobs) - len(todo)


class _Tally:
    """Accumulates worker results into a report and drives the progress callback."""

    def __init__(self, report: PrepareReport, total: int, progress: ProgressFn | None) -> None:
        self.report, self.total, self.progress = report, total, progress
        self.done = 0
        self.skipped: Counter[str] = Counter()
        self.failed: Counter[str] = Counter()

    def add(self, job_id: str, status: str, reason: str) -> None:
        if status == "converted":
            self.report.converted += 1
        elif status == "skipped":
            self.skipped[reason] += 1
        else:
            self.failed[reason] += 1
            examples = self.report.failed_examples.setdefault(reason, [])
            if len(examples) < _MAX_EXAMPLES:
                examples.append(job_id)
            log.info("failed %s: %s", job_id, reason)
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _run_serial(todo: Sequence[Any], convert_fn: ConvertFn, out: str, tally: _Tally) -> None:
    for job in todo:
        tally.add(*convert_and_write(convert_fn, job, out))


def _run_pool(
    todo: Sequence[Any], convert_fn: ConvertFn, out: str, workers: int, tally: _Tally
) -> None:
    """Run jobs in a process pool with a bounded window; survive crashed workers.

    When a worker dies (segfault, out of memory) the pool breaks; the jobs that were in
    flight are retried one at a time in a fresh single-worker pool, so the culprit is
    counted as failed and every other job still runs.
    """
    queue = list(reversed(todo))
    suspects: list[Any] = []
    window = max(1, workers * _INFLIGHT_PER_WORKER)
    while queue or suspects:
        if suspects:
            job = suspects.pop()
            _run_isolated(job, convert_fn, out, tally)
            continue
        with ProcessPoolExecutor(max_workers=workers) as pool:
            inflight: dict[Future, Any] = {}
            try:
                while queue or inflight:
                    while queue and len(inflight) < window:
                        job = queue.pop()
                        inflight[pool.submit(convert_and_write, convert_fn, job, out)] = job
                    finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        result = fut.result()  # raises BrokenProcessPool if a worker died
                        del inflight[fut]
                        tally.add(*result)
            except BrokenProcessPool:
                log.warning("a worker process died; retrying %d jobs one by one", len(inflight))
                suspects.extend(inflight.values())


def _run_isolated(job: Any, convert_fn: ConvertFn, out: str, tally: _Tally) -> None:
    """Run one job alone, so a crash is blamed on exactly this job."""
    with ProcessPoolExecutor(max_workers=1) as pool:
        try:
            tally.add(*pool.submit(convert_and_write, convert_fn, job, out).result())
        except BrokenProcessPool:
            tally.add(job.id, "failed", "BrokenProcessPool: worker process died")


def run_prepare(
    out_dir: str | Path,
    jobs: Sequence[Any],
    convert_fn: ConvertFn,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    skipped: Mapping[str, int] | None = None,
) -> PrepareReport:
    """Convert `jobs` into the prepared corpus at `out_dir`; resumable, never aborts on a piece.

    `convert_fn` must be a top-level (picklable) function returning `(symusic.Score,
    PieceRecord)` or raising `SkipPiece(reason)`. Jobs whose record already exists are not
    run again. `skipped` adds reasons counted before conversion (e.g. files that are not
    music) to the report. `workers` defaults to the CPU count; 1 runs in-process.
    """
    start = time.perf_counter()
    out = Path(out_dir)
    (out / "midi").mkdir(parents=True, exist_ok=True)
    (out / "records").mkdir(parents=True, exist_ok=True)
    workers = max(1, workers or os.cpu_count() or 1)
    todo, already = pending_jobs(out, jobs)
    report = PrepareReport(total_jobs=len(jobs), already_done=already, workers=workers)
    tally = _Tally(report, len(todo), progress)
    log.info("%d jobs, %d already done, %d workers", len(jobs), already, workers)
    if workers == 1 or len(todo) <= 1:
        _run_serial(todo, convert_fn, str(out), tally)
    else:
        _run_pool(todo, convert_fn, str(out), min(workers, len(todo)), tally)
    tally.skipped.update(skipped or {})
    report.skipped = dict(tally.skipped.most_common())
    report.failed = dict(tally.failed.most_common())
    report.pieces_in_index = write_index(out)
    report.wall_time_s = round(time.perf_counter() - start, 2)
    atomic_write_json(out / "report.json", asdict(report))
    log.info(
        "converted %d, already done %d, skipped %d, failed %d in %.1f s",
        report.converted,
        report.already_done,
        report.n_skipped,
        report.n_failed,
        report.wall_time_s,
    )
    return report
