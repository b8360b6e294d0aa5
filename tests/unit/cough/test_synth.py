"""Synthetic coughs: deterministic, varied, and the two kinds sound different."""

from __future__ import annotations

import numpy as np
import pytest

from apps.cough.synth import MAX_SECONDS, MIN_SECONDS, synth_clip, synth_dataset
from apps.cough.validate import SILENCE_RMS, rms


def test_the_same_seed_gives_the_same_clip() -> None:
    np.testing.assert_array_equal(synth_clip("wet", 11), synth_clip("wet", 11))
    assert not np.array_equal(synth_clip("wet", 11), synth_clip("wet", 12))


def test_a_data_set_is_balanced_varied_and_usable() -> None:
    clips, labels = synth_dataset(40, seed=3)

    assert np.bincount(labels).tolist() == [20, 20]
    durations = [len(c) / 16000 for c in clips]
    assert min(durations) >= MIN_SECONDS and max(durations) <= MAX_SECONDS
    assert max(durations) - min(durations) > 2.0
    assert all(c.dtype == np.float32 and np.abs(c).max() <= 1.0 for c in clips)
    assert min(rms(c) for c in clips) > SILENCE_RMS
    peaks = [float(np.abs(c).max()) for c in clips]
    assert max(peaks) / min(peaks) > 2.0  # varied gain


def test_dry_coughs_are_brighter_than_wet_ones() -> None:
    def centroid(clip: np.ndarray) -> float:
        spectrum = np.abs(np.fft.rfft(clip)) ** 2
        return float(np.sum(np.fft.rfftfreq(len(clip), 1 / 16000) * spectrum) / spectrum.sum())

    dry = np.median([centroid(synth_clip("dry", s)) for s in range(10)])
    wet = np.median([centroid(synth_clip("wet", s)) for s in range(10)])

    assert dry > 1.5 * wet


def test_a_length_can_be_asked_for() -> None:
    assert len(synth_clip("dry", 0, seconds=2.5)) == 40000


def test_unknown_kinds_are_refused() -> None:
    with pytest.raises(ValueError, match="unknown cough kind"):
        synth_clip("croup", 0)  # type: ignore[arg-type]
