"""Mastering a rendered piece: a light reverb, loudness to a target, a true-peak ceiling.

All numpy (no scipy): the loudness meter follows ITU-R BS.1770-4 (K-weighting, 400 ms
blocks with 75 % overlap, absolute gate at -70 LUFS, relative gate 10 LU below), with the
K-weighting filters applied as their exact frequency response on a zero-padded FFT rather
than as a recursive filter. True peak is read 4x oversampled (BS.1770-4 Annex 2). The
limiter that keeps the true peak under the ceiling is a look-ahead gain curve: the gain
each sample needs, held by a running minimum and smoothed by a moving average inside the
hold, so the smoothed gain never exceeds what any sample needs. The reverb convolves each
channel with its own decaying-noise impulse response (a small room, RT60 about 1.2 s,
highs decaying twice as fast), fixed by a seed so renders are reproducible.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..errors import BadInputError

TARGET_LUFS = -16.0  # a common level for music streamed or played from files
CEILING_DBTP = -1.0  # true-peak ceiling: room for lossy encoders' overshoot
LOUDNESS_RANGE = (-40.0, -6.0)  # targets accepted from users
DEFAULT_REVERB = 0.25  # wet level relative to dry (about -12 dB): light
RT60_S = 1.2
PREDELAY_S = 0.015
OVERSAMPLE = 4
LOOKAHEAD_S = 0.005  # the limiter's attack
HOLD_S = 0.05  # and how long it holds before releasing
MAX_STEPS = 8  # gain steps toward the loudness target when the limiter takes some
MAX_GAIN_DB = 60.0  # the most a quiet render is raised


# -- loudness (ITU-R BS.1770-4) -------------------------------------------------------------
def _k_weighting(rate: int) -> list[tuple[tuple[float, float, float], tuple[float, float, float]]]:
    """The two K-weighting biquads (high shelf, high pass) at `rate`, as (b, a).

    The analog prototypes' parameters and the bilinear transform as in libebur128 and
    pyloudnorm; at 48 kHz they give the coefficients printed in BS.1770-4.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10 ** (gain_db / 20)
    vb = vh**0.4996667741545416
    a0 = 1 + k / q + k * k
    shelf = (
        ((vh + vb * k / q + k * k) / a0, 2 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0),
        (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0),
    )
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1 + k / q + k * k
    highpass = ((1.0, -2.0, 1.0), (1.0, 2 * (k * k - 1) / a0, (1 - k / q + k * k) / a0))
    return [shelf, highpass]


BLOCK_S = 30.0  # K-weighting runs in blocks this long, so memory stays flat for long pieces


def k_weighted(audio: np.ndarray, rate: int) -> np.ndarray:
    """`audio` (frames, channels) through the K-weighting filters, float64, same length.

    Overlap-save in blocks: each block is filtered with half a second of the audio before
    it (the filters' memory; their response has decayed by then) and half a second of
    zeros after it (room for the ringing, so nothing wraps around)."""
    audio = np.asarray(audio)
    n, pad = len(audio), rate // 2
    block = max(1, round(BLOCK_S * rate))
    size = fft_size(min(n, block) + 2 * pad)
    z = np.exp(-1j * np.pi * np.arange(size // 2 + 1) / (size // 2))  # e^{-jw}
    response = np.ones(len(z), dtype=np.complex128)
    for b, a in _k_weighting(rate):
        response *= (b[0] + b[1] * z + b[2] * z * z) / (a[0] + a[1] * z + a[2] * z * z)
    out = np.empty(audio.shape, dtype=np.float64)
    for start in range(0, n, block):
        lead = min(pad, start)
        chunk = np.asarray(audio[start - lead : start + block], dtype=np.float64)
        spectrum = np.fft.rfft(chunk, n=size, axis=0)
        filtered = np.fft.irfft(spectrum * response[:, None], n=size, axis=0)
        out[start : start + block] = filtered[lead : len(chunk)]
    return out


def loudness(audio: np.ndarray, rate: int) -> float:
    """Integrated loudness in LUFS of (frames, channels) audio (channel weights 1: mono,
    stereo); -inf for silence or audio shorter than one 400 ms block."""
    audio = np.asarray(audio)
    if audio.ndim == 1:
        audio = audio[:, None]
    return _gated(_block_powers(np.square(k_weighted(audio, rate)).sum(axis=1), rate))


def _block_powers(power: np.ndarray, rate: int) -> np.ndarray:
    """Mean K-weighted power (channels summed) of each 400 ms block, 100 ms apart."""
    block, step = round(0.4 * rate), round(0.1 * rate)
    if len(power) < block:
        return np.zeros(0)
    cumulative = np.concatenate([[0.0], np.cumsum(power, dtype=np.float64)])
    starts = np.arange(0, len(power) - block + 1, step)
    return (cumulative[starts + block] - cumulative[starts]) / block


def _gated(z: np.ndarray) -> float:
    """BS.1770-4 gating of block powers: absolute at -70 LUFS, relative 10 LU below."""
    with np.errstate(divide="ignore"):
        gated = z[-0.691 + 10 * np.log10(z) > -70.0]
    if not len(gated):
        return -math.inf
    relative = -0.691 + 10 * math.log10(gated.mean()) - 10.0
    with np.errstate(divide="ignore"):
        gated = gated[-0.691 + 10 * np.log10(gated) > relative]
    return float(-0.691 + 10 * math.log10(gated.mean()))


# -- true peak and the limiter --------------------------------------------------------------
@lru_cache(maxsize=1)
def _interpolator() -> np.ndarray:
    """(taps, OVERSAMPLE - 1) windowed-sinc taps of the in-between points: column k-1
    gives the point k/OVERSAMPLE of the way from x[n] to x[n+1] from x[n-5..n+6]."""
    taps = 48 // OVERSAMPLE
    m = np.arange(taps) - taps // 2 + 1
    phases = [np.sinc(m - k / OVERSAMPLE) * np.kaiser(taps, 8.0) for k in range(1, OVERSAMPLE)]
    return np.array(phases, dtype=np.float32).T


PEAK_BLOCK = 1 << 16  # frames per matrix product in `peak_envelope`


def peak_envelope(audio: np.ndarray) -> np.ndarray:
    """Per frame, the largest magnitude over channels and the OVERSAMPLE-1 points that
    follow it (4x oversampled): the true peak is its maximum."""
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    n = len(audio)
    env = np.abs(audio).max(axis=1)
    h = _interpolator()
    taps = len(h)
    before, after = taps // 2 - 1, taps // 2
    padded = np.concatenate(
        [
            np.zeros((before, audio.shape[1]), np.float32),
            audio,
            np.zeros((after, audio.shape[1]), np.float32),
        ]
    )
    for c in range(audio.shape[1]):
        windows = np.lib.stride_tricks.sliding_window_view(padded[:, c], taps)
        for start in range(0, n, PEAK_BLOCK):
            between = windows[start : start + PEAK_BLOCK] @ h  # (frames, OVERSAMPLE - 1)
            np.maximum(env[start : start + PEAK_BLOCK], np.abs(between).max(axis=1),
                       out=env[start : start + PEAK_BLOCK])  # fmt: skip
    return env


def true_peak(audio: np.ndarray) -> float:
    """Largest magnitude of `audio` read 4x oversampled (linear, 1.0 = full scale)."""
    return float(peak_envelope(audio).max()) if np.size(audio) else 0.0


def _running_min(x: np.ndarray, width: int) -> np.ndarray:
    """min(x[i : i + width]) for i in 0..len(x)-width, in O(n) (van Herk / Gil-Werman)."""
    n = len(x)
    padded = np.concatenate([x, np.full(-n % width, np.inf)]).reshape(-1, width)
    prefix = np.minimum.accumulate(padded, axis=1).ravel()
    suffix = np.minimum.accumulate(padded[:, ::-1], axis=1)[:, ::-1].ravel()
    return np.minimum(suffix[: n - width + 1], prefix[width - 1 : n])


def limiter_gain(env: np.ndarray, rate: int, ceiling: float) -> np.ndarray:
    """The gain per frame that keeps a peak envelope `env` under `ceiling` (linear): it
    falls over LOOKAHEAD_S before a peak, holds HOLD_S after it and comes back over
    2 * LOOKAHEAD_S; 1 wherever nothing nearby exceeds the ceiling."""
    need = np.minimum(1.0, ceiling / np.maximum(env.astype(np.float64), 1e-12))
    if need.min() >= 1.0:
        return np.ones(len(env))
    ahead, hold = max(1, round(LOOKAHEAD_S * rate)), max(1, round(HOLD_S * rate))
    # held[n] = min need[n - hold .. n + ahead]; every held value averaged over
    # n - ahead .. n + ahead covers n, so the average is at most need[n].
    padded = np.concatenate([np.ones(hold), need, np.ones(ahead)])
    held = _running_min(padded, hold + ahead + 1)
    # past the ends, the end values (each covers the frames within `ahead` of its end)
    padded = np.concatenate([np.full(ahead, held[0]), held, np.full(ahead, held[-1])])
    sums = np.concatenate([[0.0], np.cumsum(padded)])
    width = 2 * ahead + 1
    gain = (sums[width:] - sums[:-width]) / width
    return np.minimum(gain, need)  # rounding in the sums must not let a peak through


def limit(audio: np.ndarray, rate: int, ceiling_db: float = CEILING_DBTP) -> np.ndarray:
    """`audio` with its true peak at most `ceiling_db` dBTP, touching only the passages
    that exceed it (`limiter_gain`)."""
    ceiling = 10 ** (ceiling_db / 20)
    env = peak_envelope(audio)
    if not len(env) or env.max() <= ceiling:
        return audio
    out = audio * limiter_gain(env, rate, ceiling)[:, None].astype(audio.dtype)
    over = true_peak(out)
    if over > ceiling:  # the points between samples moved with the gain: trim the rest
        out *= ceiling / over
    return out


@dataclass(frozen=True)
class Mastered:
    """What `master` did: loudness before and after (LUFS), the true peak after (dBTP)
    and how far the limiter pulled the loudest passage down (dB)."""

    loudness_in: float
    loudness_out: float
    true_peak_db: float
    limited_db: float


def check_loudness(target: float | None) -> float | None:
    if target is None:
        return None
    low, high = LOUDNESS_RANGE
    if not isinstance(target, int | float) or not low <= float(target) <= high:
        raise BadInputError(
            f"loudness must be a target in LUFS from {low:g} to {high:g} (e.g. {TARGET_LUFS:g}), "
            f"or off, not {target!r}",
            field="loudness",
        )
    return float(target)


def master(
    audio: np.ndarray, rate: int, target: float = TARGET_LUFS, ceiling_db: float = CEILING_DBTP
) -> tuple[np.ndarray, Mastered]:
    """`audio` brought to `target` LUFS with its true peak at most `ceiling_db`.

    A piece whose peaks stand far above its average is limited, and the gain is raised
    again to make up what the limiter took. The K-weighting and the peak envelope are
    computed once: a gain that changes over milliseconds scales both as it scales the
    audio, so each step (and the loudness reported) is a product and block sums; the
    true peak of the result is measured.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    power = np.square(k_weighted(audio, rate)).sum(axis=1)
    before = _gated(_block_powers(power, rate))
    if not math.isfinite(before):
        return audio, Mastered(before, before, _db(true_peak(audio)), 0.0)
    env = peak_envelope(audio).astype(np.float64)
    ceiling = 10 ** (ceiling_db / 20)

    # the gain in dB that reaches the target, by the secant method on the measured level
    def level(gain_db: float) -> tuple[float, np.ndarray]:
        curve = limiter_gain(env * 10 ** (gain_db / 20), rate, ceiling)
        return _gated(_block_powers(power * curve**2, rate)) + gain_db, curve

    g0, g1 = 0.0, target - before
    l0, (l1, curve) = before, level(g1)
    best = (abs(l1 - target), g1, curve)
    for _ in range(MAX_STEPS):
        if abs(l1 - target) < 0.05 or l1 == l0:
            break
        g0, g1 = g1, min(g1 + (target - l1) * (g1 - g0) / (l1 - l0), MAX_GAIN_DB)
        l0, (l1, curve) = l1, level(g1)
        best = min(best, (abs(l1 - target), g1, curve), key=lambda b: b[0])
    # a piece made of hard attacks may not reach the target under the ceiling: the
    # closest level found is kept
    _, g1, curve = best
    gain = (10 ** (g1 / 20) * curve).astype(np.float32)
    out = audio * gain[:, None]
    peak = true_peak(out)
    if peak > ceiling:  # the in-between points moved with the gain: trim the rest
        out *= np.float32(ceiling / peak)
        gain *= np.float32(ceiling / peak)
        peak = ceiling
    after = _gated(_block_powers(power * np.square(gain, dtype=np.float64), rate))
    return out, Mastered(before, after, _db(peak), -_db(float(curve.min())))


def _db(x: float) -> float:
    return 20 * math.log10(x) if x > 0 else -math.inf


# -- reverb -----------------------------------------------------------------------------------
def check_reverb(amount: float) -> float:
    if not isinstance(amount, int | float) or not 0.0 <= float(amount) <= 1.0:
        raise BadInputError(f"reverb must be from 0 (off) to 1, not {amount!r}", field="reverb")
    return float(amount)


@lru_cache(maxsize=4)
def impulse_response(rate: int, seed: int = 7) -> np.ndarray:
    """(frames, 2) float32 room response, each channel of unit energy and decorrelated
    from the other: PREDELAY_S of silence, then noise decaying by 60 dB over RT60_S
    (above about 3 kHz over half that), with a 10 ms build-up."""
    n = round(RT60_S * rate)
    t = np.arange(n) / rate
    noise = np.random.default_rng(seed).standard_normal((n, 2))
    width = max(1, round(rate / 6000))  # a box filter: low band below ~3 kHz
    sums = np.cumsum(np.concatenate([np.zeros((width, 2)), noise]), axis=0)
    low = (sums[width:] - sums[:-width]) / width
    high = noise - low
    ir = low * 10 ** (-3 * t / RT60_S)[:, None] + high * 10 ** (-6 * t / RT60_S)[:, None]
    onset = min(n, round(0.01 * rate))
    ir[:onset] *= np.linspace(0.0, 1.0, onset)[:, None]
    ir = np.concatenate([np.zeros((round(PREDELAY_S * rate), 2)), ir])
    ir /= np.sqrt(np.square(ir).sum(axis=0))
    return ir.astype(np.float32)


def reverb(audio: np.ndarray, rate: int, amount: float = DEFAULT_REVERB) -> np.ndarray:
    """`audio` plus `amount` times its convolution with the room (`impulse_response`),
    lengthened by the room's tail; amount 0 returns the input unchanged."""
    amount = check_reverb(amount)
    if amount == 0 or not len(audio):
        return audio
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[:, None]
    ir = impulse_response(rate)
    if audio.shape[1] != ir.shape[1]:
        ir = ir[:, : audio.shape[1]]
    n, m = len(audio), len(ir)
    out = np.zeros((n + m - 1, audio.shape[1]), dtype=np.float64)
    out[:n] = audio
    block = 8 * m  # overlap-add: memory stays small for long pieces
    size = fft_size(block + m - 1)
    room = np.fft.rfft(ir, n=size, axis=0)
    for start in range(0, n, block):
        chunk = audio[start : start + block]
        wet = np.fft.irfft(np.fft.rfft(chunk, n=size, axis=0) * room, n=size, axis=0)
        stop = min(len(out), start + len(chunk) + m - 1)
        out[start:stop] += amount * wet[: stop - start]
    return out.astype(np.float32)


def fft_size(n: int) -> int:
    """Smallest 2^a 3^b 5^c >= n: FFT lengths that are fast."""
    best = 1 << max(0, (n - 1).bit_length())
    p5 = 1
    while p5 < best:
        p35 = p5
        while p35 < best:
            p = p35
            while p < n:
                p *= 2
            best = min(best, p)
            p35 *= 3
        p5 *= 5
    return best
