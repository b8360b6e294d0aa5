"""The cough result's spectrogram picture: a real PNG that shows where the energy is."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from apps.cough.features import FeatureExtractor, FeatureSpec, build_assets
from apps.cough.spectrogram import render_spectrogram

SPEC = FeatureSpec()
RATE = SPEC.sample_rate


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor(SPEC, build_assets(SPEC))


@pytest.fixture
def picture(extractor: FeatureExtractor):  # type: ignore[no-untyped-def]
    """The picture of a recording, drawn from the power its features came from."""

    def draw(samples: np.ndarray) -> np.ndarray:
        return _decoded(render_spectrogram(extractor.analyse(samples)[1]))

    return draw


def _decoded(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG"
    return np.asarray(image.convert("L"), dtype=float)


def test_a_low_tone_is_bright_at_the_bottom_and_a_high_one_at_the_top(picture) -> None:  # type: ignore[no-untyped-def]
    t = np.arange(RATE) / RATE
    low = picture(0.5 * np.sin(2 * np.pi * 300 * t).astype(np.float32))
    high = picture(0.5 * np.sin(2 * np.pi * 7000 * t).astype(np.float32))
    assert low.shape == high.shape == (128, 480)
    # The brightest row sits where the tone's frequency is: 300 Hz near the bottom,
    # 7 kHz (of 8 kHz) near the top.
    assert int(np.argmax(low.mean(axis=1))) > 115
    assert int(np.argmax(high.mean(axis=1))) < 20


def test_a_sound_that_starts_late_is_dark_on_the_left(picture) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(1)
    samples = np.zeros(2 * RATE, dtype=np.float32)
    samples[RATE:] = rng.standard_normal(RATE).astype(np.float32) * 0.3
    shades = picture(samples)
    assert shades[:, 260:].mean() > shades[:, :220].mean() + 50


def test_the_longest_recording_and_the_shortest_render_at_the_same_size(  # type: ignore[no-untyped-def]
    picture, extractor: FeatureExtractor
) -> None:
    # How fast is measured in bench/, not here.
    long = np.random.default_rng(2).standard_normal(30 * RATE).astype(np.float32)
    assert picture(long).shape == (128, 480)
    shortest = np.ones(int(extractor.min_seconds * RATE), dtype=np.float32)
    assert picture(shortest).shape == (128, 480)
    # One frame of one bin is still a picture; no frames at all is a caller's error.
    assert _decoded(render_spectrogram(np.ones((1, 1)))).shape == (128, 480)
    with pytest.raises(ValueError, match="frames, bins"):
        render_spectrogram(np.zeros((0, 257)))
