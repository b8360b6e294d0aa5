"""Deterministic synthesis of cough-like recordings, for training and tests.

A *dry* cough is a short, sharp broadband burst: fast attack, 0.2-0.4 s decay,
noise with most of its energy high up. A *wet* cough is longer and lower, with a
voiced rumble, rattle (amplitude modulation) and crackle (random short clicks).
Each clip holds one to three coughs of one kind, with varied gain, pitch, band,
background noise and silence around them. The same seed gives the same clips.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

Kind = Literal["dry", "wet"]
KINDS: tuple[Kind, ...] = ("dry", "wet")

MIN_SECONDS = 0.5
MAX_SECONDS = 6.0
_RUMBLE_WINDOW = 64


def synth_clip(
    kind: Kind, seed: int, *, sample_rate: int = 16000, seconds: float | None = None
) -> np.ndarray:
    """One clip of ``kind`` coughs, fully determined by ``seed``."""
    return synth_cough(kind, np.random.default_rng(seed), sample_rate=sample_rate, seconds=seconds)


def synth_dataset(
    n_clips: int, seed: int, *, sample_rate: int = 16000
) -> tuple[list[np.ndarray], np.ndarray]:
    """``n_clips`` clips alternating dry/wet, and their labels (0 = dry, 1 = wet)."""
    items = [synth_item(i, seed, sample_rate=sample_rate) for i in range(n_clips)]
    return [clip for clip, _ in items], np.array([label for _, label in items], dtype=np.int64)


def synth_item(index: int, seed: int, *, sample_rate: int = 16000) -> tuple[np.ndarray, int]:
    """Item ``index`` of the data set ``seed``: its clip and label, independent of the others."""
    label = index % 2
    rng = np.random.default_rng([seed, index])
    return synth_cough(KINDS[label], rng, sample_rate=sample_rate), label


def synth_cough(
    kind: Kind, rng: np.random.Generator, *, sample_rate: int = 16000, seconds: float | None = None
) -> np.ndarray:
    """A clip of one to three ``kind`` coughs in background noise, float32 in [-1, 1]."""
    if kind not in KINDS:
        raise ValueError(f"unknown cough kind {kind!r}; expected one of {KINDS}")
    # Log-uniform lengths: short recordings are the common case, long ones still occur.
    log_range = (np.log(MIN_SECONDS), np.log(MAX_SECONDS))
    total = float(seconds) if seconds is not None else float(np.exp(rng.uniform(*log_range)))
    n = max(1, round(total * sample_rate))
    clip = np.zeros(n)
    make = _dry_cough if kind == "dry" else _wet_cough
    # Silence before the first cough; coughs follow each other with short gaps.
    position = int(rng.uniform(0.0, 0.3) * n)
    peak = 0.0
    for _ in range(int(rng.integers(1, 4))):
        event = make(rng, sample_rate)
        room = n - position
        if room < 0.1 * sample_rate:
            break
        event = event[:room]
        gain = rng.uniform(0.1, 0.9)
        clip[position : position + len(event)] += gain * event / max(np.abs(event).max(), 1e-9)
        peak = max(peak, gain)
        position += len(event) + int(rng.uniform(0.1, 0.5) * sample_rate)
    snr_db = rng.uniform(15.0, 40.0)
    clip += _colored_noise(rng, n, tilt=rng.uniform(0.0, 1.5)) * peak * 10 ** (-snr_db / 20)
    return np.clip(clip, -1.0, 1.0).astype(np.float32)


def _dry_cough(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    duration = rng.uniform(0.2, 0.4)
    n = int(duration * sample_rate)
    t = np.arange(n) / sample_rate
    envelope = _envelope(
        t, attack=rng.uniform(0.003, 0.015), decay=duration / rng.uniform(4.0, 6.0)
    )
    center = rng.uniform(1500.0, 4500.0)
    body = _band_noise(rng, n, sample_rate, center=center, width=rng.uniform(0.6, 1.0))
    # A faint glottal component: the "pitch" of the cough.
    f0 = rng.uniform(180.0, 400.0)
    voiced = _harmonics(t, f0, count=6, rolloff=1.5) * rng.uniform(0.0, 0.15)
    return envelope * (body + voiced)


def _wet_cough(rng: np.random.Generator, sample_rate: int) -> np.ndarray:
    duration = rng.uniform(0.4, 0.8)
    n = int(duration * sample_rate)
    t = np.arange(n) / sample_rate
    envelope = _envelope(t, attack=rng.uniform(0.01, 0.04), decay=duration / rng.uniform(2.5, 4.0))
    body = _band_noise(
        rng, n, sample_rate, center=rng.uniform(300.0, 1200.0), width=rng.uniform(0.4, 0.8)
    )
    f0 = rng.uniform(90.0, 220.0)
    voiced = _harmonics(t, f0, count=10, rolloff=1.0) * rng.uniform(0.3, 0.7)
    rattle = 1.0 + rng.uniform(0.3, 0.8) * np.sin(2 * np.pi * rng.uniform(15.0, 40.0) * t)
    crackle = _crackle(rng, n, sample_rate, rate=rng.uniform(20.0, 80.0)) * rng.uniform(0.3, 1.0)
    return envelope * (rattle * (body + voiced) + crackle)


def _envelope(t: np.ndarray, *, attack: float, decay: float) -> np.ndarray:
    rise = np.clip(t / attack, 0.0, 1.0)
    return rise * np.exp(-np.maximum(t - attack, 0.0) / decay)


def _band_noise(
    rng: np.random.Generator, n: int, sample_rate: int, *, center: float, width: float
) -> np.ndarray:
    """White noise shaped by a Gaussian band in log-frequency (``width`` in octaves-ish)."""
    size = _fft_size(n)
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size, d=1.0 / sample_rate)
    octaves = np.log2(np.maximum(freqs, 1.0) / center)
    shaped = np.fft.irfft(spectrum * np.exp(-0.5 * (octaves / width) ** 2), size)[:n]
    return shaped / max(np.abs(shaped).max(), 1e-9)


def _harmonics(t: np.ndarray, f0: float, *, count: int, rolloff: float) -> np.ndarray:
    # Powers of one complex phasor: far cheaper than a sine per harmonic.
    base = np.exp(2j * np.pi * f0 * t)
    phasor, wave, norm = base.copy(), np.zeros(len(t)), 0.0
    for k in range(1, count + 1):
        wave += phasor.imag / k**rolloff
        norm += 1.0 / k**rolloff
        phasor *= base
    return wave / norm


def _crackle(rng: np.random.Generator, n: int, sample_rate: int, *, rate: float) -> np.ndarray:
    """Short decaying clicks of random sign at Poisson times."""
    out = np.zeros(n)
    count = rng.poisson(rate * n / sample_rate)
    for start in rng.integers(0, n, size=count):
        length = int(rng.uniform(0.001, 0.003) * sample_rate)
        click = rng.choice([-1.0, 1.0]) * np.exp(-np.arange(length) / (length / 4))
        end = min(n, start + length)
        out[start:end] += click[: end - start] * rng.uniform(0.3, 1.0)
    return out


def _colored_noise(rng: np.random.Generator, n: int, *, tilt: float) -> np.ndarray:
    """Unit-RMS background noise: white, plus ``tilt`` times a rumble (a random walk with
    its drift removed), which tips the spectrum toward low frequencies."""
    white = rng.standard_normal(n + _RUMBLE_WINDOW, dtype=np.float32)
    walk = np.cumsum(white, dtype=np.float64)
    running = np.cumsum(walk)
    local_mean = (running[_RUMBLE_WINDOW:] - running[:-_RUMBLE_WINDOW]) / _RUMBLE_WINDOW
    rumble = walk[_RUMBLE_WINDOW:] - local_mean
    rumble /= max(float(np.std(rumble)), 1e-12)
    noise = white[_RUMBLE_WINDOW:] + tilt * rumble
    return noise / max(float(np.sqrt(np.mean(noise**2))), 1e-12)


def _fft_size(n: int) -> int:
    """A power of two >= n: FFTs of arbitrary (prime) lengths are many times slower."""
    return 1 << max(0, n - 1).bit_length()
