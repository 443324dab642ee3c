"""`tunesmith prepare music21`: list the corpus jobs, convert them in worker processes."""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path

from ...prepare import PrepareReport, ProgressFn, run_prepare
from .convert import convert_job
from .jobs import list_jobs

log = logging.getLogger(__name__)


def prepare_music21(
    out_dir: str | Path,
    limit: int | None = None,
    workers: int | None = None,
    progress: ProgressFn | None = None,
    expand_repeats: bool = False,
) -> PrepareReport:
    """Prepare the music21 corpus into `out_dir` (resumable); see `run_prepare`.

    `limit` converts a small deterministic sample spread over the collections;
    `expand_repeats` plays repeat signs out (see `convert_job`).
    """
    jobs, skipped = list_jobs(limit)
    log.info(
        "music21 corpus: %d pieces to convert, %d files skipped", len(jobs), sum(skipped.values())
    )
    return run_prepare(
        out_dir, jobs, partial(convert_job, expand_repeats=expand_repeats), workers=workers,
        progress=progress,
        skipped=skipped if limit is None else None,
    )  # fmt: skip
