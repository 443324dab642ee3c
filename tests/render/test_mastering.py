"""Loudness meter, true peak, limiter and reverb on synthetic signals with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tunesmith.errors import BadInputError
from tunesmith.render.mastering import (
    CEILING_DBTP,
    RT60_S,
    check_loudness,
    impulse_response,
    limit,
    loudness,
    master,
    reverb,
    true_peak,
)


def sine(db: float, seconds: float, rate: int, freq: float = 997.0, phase: float = 0.0):
    """A stereo sine with its peak at `db` dBFS on both channels."""
    t = np.arange(round(seconds * rate)) / rate
    x = 10 ** (db / 20) * np.sin(2 * np.pi * freq * t + phase)
    return np.stack([x, x], axis=1).astype(np.float32)


@pytest.mark.parametrize("rate", [44100, 48000])
@pytest.mark.parametrize("db", [-23.0, -33.0])
def test_stereo_sine_reads_its_level(rate, db):
    """EBU Tech 3341 cases 1-2: a 1 kHz stereo sine at X dBFS reads X LUFS."""
    assert loudness(sine(db, 3.0, rate), rate) == pytest.approx(db, abs=0.1)


def test_relative_gate_ignores_quiet_passages():
    """EBU Tech 3341 case 3: 10 s at -36, 60 s at -23, 10 s at -36 dBFS read -23 LUFS."""
    rate = 16000
    x = np.concatenate([sine(-36, 10, rate), sine(-23, 60, rate), sine(-36, 10, rate)])
    assert loudness(x, rate) == pytest.approx(-23.0, abs=0.1)


def test_absolute_gate_ignores_near_silence():
    """EBU Tech 3341 case 4: -72 / -36 / -23 / -36 / -72 dBFS (10/10/60/10/10 s): -23."""
    rate = 16000
    parts = [(-72, 10), (-36, 10), (-23, 60), (-36, 10), (-72, 10)]
    x = np.concatenate([sine(db, s, rate) for db, s in parts])
    assert loudness(x, rate) == pytest.approx(-23.0, abs=0.1)
    assert loudness(np.zeros((rate, 2), np.float32), rate) == -math.inf
    assert loudness(sine(-20, 0.2, rate), rate) == -math.inf  # shorter than one block


def test_agrees_with_pyloudnorm():
    pyln = pytest.importorskip("pyloudnorm")
    rate = 44100
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6 * rate, 2)) * np.linspace(0.02, 0.2, 6 * rate)[:, None]
    assert loudness(x, rate) == pytest.approx(pyln.Meter(rate).integrated_loudness(x), abs=0.2)


def test_true_peak_finds_the_peak_between_samples():
    rate = 48000
    x = sine(0.0, 1.0, rate, freq=rate / 4, phase=math.pi / 4)  # samples at +-0.707
    assert np.abs(x).max() == pytest.approx(math.sqrt(0.5), abs=1e-3)
    assert true_peak(x) == pytest.approx(1.0, abs=0.02)


def test_limiter_keeps_the_ceiling_and_leaves_the_rest():
    rate = 44100
    x = sine(-12, 4.0, rate, freq=220)
    x[2 * rate : 2 * rate + 200] *= 8  # a +18 dB burst
    out = limit(x, rate)
    assert 20 * math.log10(true_peak(out)) <= CEILING_DBTP + 0.01
    far = slice(0, rate)  # a second before the burst is untouched
    np.testing.assert_array_equal(out[far], x[far])
    assert limit(sine(-6, 1.0, rate), rate) is not None  # under the ceiling: unchanged
    quiet = sine(-6, 1.0, rate, freq=220)
    np.testing.assert_array_equal(limit(quiet, rate), quiet)


@pytest.mark.parametrize("target", [-16.0, -23.0])
def test_master_reaches_the_target_under_the_ceiling(target):
    rate = 44100
    rng = np.random.default_rng(1)
    # decaying plucks: peaks far above the average, so -16 LUFS needs the limiter
    x = np.zeros((8 * rate, 2), np.float32)
    env = np.exp(-np.arange(rate // 2) / (0.1 * rate))
    for start in range(0, 7 * rate, rate // 2):
        x[start : start + rate // 2] += (rng.standard_normal((rate // 2, 2)) * env[:, None]) * 0.05
    out, report = master(x, rate, target)
    assert loudness(out, rate) == pytest.approx(target, abs=0.5)
    assert report.loudness_out == pytest.approx(loudness(out, rate), abs=0.02)
    assert 20 * math.log10(true_peak(out)) <= CEILING_DBTP + 0.01
    if target == -16.0:
        assert report.limited_db > 0  # these plucks needed it


def test_master_leaves_silence_alone():
    rate = 22050
    silent = np.zeros((rate, 2), np.float32)
    out, report = master(silent, rate)
    np.testing.assert_array_equal(out, silent)
    assert report.loudness_out == -math.inf


def test_reverb_adds_a_decaying_decorrelated_tail():
    rate = 22050
    click = np.zeros((rate, 2), np.float32)
    click[100] = 0.5
    assert reverb(click, rate, 0.0) is click
    wet = reverb(click, rate, 0.5)
    ir = impulse_response(rate)
    assert len(wet) == len(click) + len(ir) - 1
    np.testing.assert_allclose(wet[:100], 0.0, atol=1e-6)  # nothing before the click
    tail = wet[101:]
    early = np.sqrt(np.mean(np.square(tail[: rate // 5])))
    late = np.sqrt(np.mean(np.square(tail[round(RT60_S * rate) - rate // 5 :])))
    assert 20 * math.log10(late / early) < -30  # decays toward -60 dB at RT60
    corr = np.corrcoef(ir[:, 0], ir[:, 1])[0, 1]
    assert abs(corr) < 0.1  # left and right rooms differ: a wide image
    np.testing.assert_allclose(np.square(ir).sum(axis=0), 1.0, rtol=1e-4)


@pytest.mark.parametrize("bad", [-0.1, 1.5, "lots"])
def test_reverb_out_of_range_is_bad_input(bad):
    with pytest.raises(BadInputError, match="reverb"):
        reverb(np.zeros((10, 2), np.float32), 22050, bad)


@pytest.mark.parametrize("bad", [0.0, -80.0, -3.0, "loud"])
def test_loudness_target_out_of_range_is_bad_input(bad):
    with pytest.raises(BadInputError, match="loudness"):
        check_loudness(bad)
    assert check_loudness(None) is None and check_loudness(-14) == -14.0


def test_limiter_holds_the_ceiling_at_the_very_start_and_end():
    """A loud attack on the first frames (a drum hit at time 0) and on the last ones."""
    rate = 22050
    x = sine(-12, 1.0, rate, freq=330)
    x[:50] *= 10
    x[-50:] *= 10
    out = limit(x, rate)
    assert 20 * math.log10(true_peak(out)) <= CEILING_DBTP + 0.01
    assert true_peak(out[: rate // 100]) > 0.5  # limited, not silenced
