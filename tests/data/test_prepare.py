"""The parallel preparation driver: resume, per-piece failures, crashed workers, reports."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

import pytest
import symusic

from tunesmith.data.prepare import SkipPiece, error_category, run_prepare
from tunesmith.data.records import PieceRecord, load_records, split_for


@dataclass(frozen=True)
class FakeJob:
    id: str
    mode: str = "ok"  # ok | skip | fail | crash


def convert_fake(job: FakeJob) -> tuple[symusic.Score, PieceRecord]:
    """A tiny one-note piece, or the failure the job asks for (top level: picklable)."""
    if job.mode == "skip":
        raise SkipPiece("too short")
    if job.mode == "fail":
        raise ValueError(f"bad value {len(job.id)} in {job.id!r}")
    if job.mode == "crash":
        os._exit(3)  # a worker dying outright, like a segfault
    score = symusic.Score(480)
    track = symusic.Track(name="v", program=40)
    track.notes.append(symusic.Note(0, 480, 60, 80))
    score.tracks.append(track)
    tune = f"tune/{job.id[:1]}"
    record = PieceRecord(id=job.id, tune_id=tune, source="fake", programs=[40], voices=1)
    record.split = split_for(tune)
    return score, record


def must_not_run(job: FakeJob) -> tuple[symusic.Score, PieceRecord]:
    raise AssertionError(f"{job.id} was converted again")


@pytest.mark.parametrize("workers", [1, 2])
def test_failures_are_counted_not_fatal(tmp_path, workers):
    jobs = [FakeJob("a1"), FakeJob("a2", "fail"), FakeJob("b1", "skip"), FakeJob("b2")]
    report = run_prepare(tmp_path, jobs, convert_fake, workers=workers)
    assert report.converted == 2
    assert report.skipped == {"too short": 1}
    assert report.failed == {"ValueError: bad value N in '…'": 1}
    assert report.failed_examples == {"ValueError: bad value N in '…'": ["a2"]}
    assert sorted(p.name for p in (tmp_path / "records").iterdir()) == ["a1.json", "b2.json"]
    assert (tmp_path / "midi" / "a1.mid").is_file()
    saved = json.loads((tmp_path / "report.json").read_text())
    assert saved["converted"] == 2 and saved["failed"] == report.failed
    assert [r.id for r in load_records(tmp_path)] == ["a1", "b2"]


def test_resume_skips_finished_pieces(tmp_path):
    jobs = [FakeJob("a1"), FakeJob("a2"), FakeJob("b1")]
    first = run_prepare(tmp_path, jobs[:2], convert_fake, workers=1)
    assert first.converted == 2
    again = run_prepare(tmp_path, jobs[:2], must_not_run, workers=2)
    assert (again.converted, again.already_done, again.failed) == (0, 2, {})
    more = run_prepare(tmp_path, jobs, convert_fake, workers=1)
    assert (more.converted, more.already_done) == (1, 2)
    assert more.pieces_in_index == 3


def test_a_crashing_worker_only_loses_its_own_piece(tmp_path):
    jobs = [FakeJob(f"a{i}") for i in range(6)] + [FakeJob("c1", "crash")]
    jobs += [FakeJob(f"b{i}") for i in range(6)]
    report = run_prepare(tmp_path, jobs, convert_fake, workers=2)
    assert report.converted == 12
    assert report.failed == {"BrokenProcessPool: worker process died": 1}
    assert report.failed_examples["BrokenProcessPool: worker process died"] == ["c1"]


def test_progress_reaches_total_and_skip_counts_are_merged(tmp_path):
    calls: list[tuple[int, int]] = []
    jobs = [FakeJob(f"a{i}") for i in range(5)]
    report = run_prepare(
        tmp_path,
        jobs,
        convert_fake,
        workers=2,
        progress=lambda done, total: calls.append((done, total)),
        skipped={"not a score": 3},
    )
    assert calls[-1] == (5, 5) and len(calls) == 5
    assert report.skipped == {"not a score": 3}
    assert report.wall_time_s >= 0 and report.total_jobs == 5


def test_duplicate_job_ids_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="duplicate"):
        run_prepare(tmp_path, [FakeJob("a1"), FakeJob("a1")], convert_fake, workers=1)


def test_error_category_groups_similar_messages():
    a = error_category(KeyError("no part 3 in 'x.abc'"))
    b = error_category(KeyError("no part 17 in 'y.abc'"))
    assert a == b and a.startswith("KeyError")
    assert error_category(RuntimeError()) == "RuntimeError"
