"""The cough result's spectrogram picture: a real PNG that shows where the energy is."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

from apps.cough.spectrogram import render_spectrogram

RATE = 16000


def _picture(samples: np.ndarray) -> np.ndarray:
    image = Image.open(io.BytesIO(render_spectrogram(samples, RATE)))
    assert image.format == "PNG"
    return np.asarray(image.convert("L"), dtype=float)


def test_a_low_tone_is_bright_at_the_bottom_and_a_high_one_at_the_top() -> None:
    t = np.arange(RATE) / RATE
    low = _picture(0.5 * np.sin(2 * np.pi * 300 * t).astype(np.float32))
    high = _picture(0.5 * np.sin(2 * np.pi * 7000 * t).astype(np.float32))
    assert low.shape == high.shape == (128, 480)
    # The brightest row sits where the tone's frequency is: 300 Hz near the bottom,
    # 7 kHz (of 8 kHz) near the top.
    assert int(np.argmax(low.mean(axis=1))) > 115
    assert int(np.argmax(high.mean(axis=1))) < 20


def test_a_sound_that_starts_late_is_dark_on_the_left() -> None:
    rng = np.random.default_rng(1)
    samples = np.zeros(2 * RATE, dtype=np.float32)
    samples[RATE:] = rng.standard_normal(RATE).astype(np.float32) * 0.3
    picture = _picture(samples)
    assert picture[:, 260:].mean() > picture[:, :220].mean() + 50


def test_the_longest_recording_and_tiny_ones_render_at_the_same_size() -> None:
    # How fast is measured in bench/, not here.
    long = np.random.default_rng(2).standard_normal(30 * RATE).astype(np.float32)
    assert _picture(long).shape == (128, 480)
    assert _picture(np.ones(100, dtype=np.float32)).shape == (128, 480)
