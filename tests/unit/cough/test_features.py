"""The numpy feature extractor reproduces librosa, and its vector is stable."""

from __future__ import annotations

from pathlib import Path

import librosa
import numpy as np
import pytest

from apps.cough.decode import decode_audio
from apps.cough.features import (
    FeatureAssets,
    FeatureExtractor,
    FeatureSpec,
    build_assets,
    feature_names,
)
from apps.cough.synth import synth_clip
from tests import audiofiles

SPEC = FeatureSpec()


@pytest.fixture(scope="module")
def extractor() -> FeatureExtractor:
    return FeatureExtractor(SPEC, build_assets(SPEC))


def _clips() -> dict[str, np.ndarray]:
    tone = audiofiles.tone(3.0, freq=600.0)
    tone[: SPEC.sample_rate] = 0.0  # a second of digital silence: all-zero frames
    opus = audiofiles.encode(synth_clip("wet", 7, seconds=2.5), SPEC.sample_rate, "webm_opus")
    return {
        "dry": synth_clip("dry", 1, seconds=4.0),
        "wet": synth_clip("wet", 2, seconds=1.3),
        "tone_after_silence": tone,
        "decoded_webm": decode_audio(opus, max_seconds=30),
    }


CLIPS = _clips()


def librosa_features(y: np.ndarray) -> dict[str, np.ndarray]:
    """The same features computed by librosa itself."""
    sr, n_fft, hop = SPEC.sample_rate, SPEC.n_fft, SPEC.hop_length
    magnitude = np.abs(librosa.stft(y, n_fft=n_fft, hop_length=hop))
    # The spectral shape features look at 0..fmax only.
    freq = librosa.fft_frequencies(sr=sr, n_fft=n_fft)
    band = freq <= SPEC.fmax
    shape, band_freq = magnitude[band], freq[band]
    mfcc = librosa.feature.mfcc(
        y=y,
        sr=sr,
        n_mfcc=SPEC.n_mfcc,
        n_fft=n_fft,
        hop_length=hop,
        n_mels=SPEC.n_mels,
        fmin=SPEC.fmin,
        fmax=SPEC.fmax,
    )
    return {
        "mfcc": mfcc,
        "delta": librosa.feature.delta(mfcc, width=SPEC.delta_width),
        "centroid": librosa.feature.spectral_centroid(sr=sr, S=shape, freq=band_freq),
        "bandwidth": librosa.feature.spectral_bandwidth(sr=sr, S=shape, freq=band_freq),
        "rolloff": librosa.feature.spectral_rolloff(
            sr=sr, S=shape, freq=band_freq, roll_percent=SPEC.roll_percent
        ),
        "flatness": librosa.feature.spectral_flatness(S=shape),
        "zcr": librosa.feature.zero_crossing_rate(y, frame_length=n_fft, hop_length=hop),
        "rms": librosa.feature.rms(S=magnitude, frame_length=n_fft, hop_length=hop),
    }


@pytest.mark.parametrize("clip", sorted(CLIPS))
def test_frame_features_match_librosa(extractor: FeatureExtractor, clip: str) -> None:
    y = CLIPS[clip].astype(np.float64)
    expected = librosa_features(y)

    actual = extractor.frame_features(y)

    assert set(actual) == set(expected)
    for name, reference in expected.items():
        assert actual[name].shape == reference.shape, name
        # The extractor computes in float32 (librosa in float64): errors are a few
        # float32 ulps (1.2e-7) of the feature's largest value, at most 1e-6 of it on
        # these clips; the tolerance leaves room for other BLAS/FFT builds.
        scale = max(float(np.abs(reference).max()), 1e-3)
        np.testing.assert_allclose(
            actual[name], reference, rtol=1e-6, atol=5e-6 * scale, err_msg=name
        )


def test_the_stft_matches_librosa(extractor: FeatureExtractor) -> None:
    y = CLIPS["dry"].astype(np.float64)

    reference = librosa.stft(y, n_fft=SPEC.n_fft, hop_length=SPEC.hop_length)

    # float32: within a few ulps of the largest bin (6e-8 of it at most on the test clips).
    np.testing.assert_allclose(extractor.stft(y), reference, atol=4e-7 * np.abs(reference).max())


def test_vector_length_is_fixed_whatever_the_clip_length(extractor: FeatureExtractor) -> None:
    lengths = {
        len(extractor.extract(synth_clip("dry", 3, seconds=s))) for s in (0.3, 1.0, 6.0, 30.0)
    }

    assert lengths == {SPEC.size}
    assert SPEC.size == len(feature_names(SPEC)) == 73


def test_vector_is_finite_float32_and_records_the_duration(extractor: FeatureExtractor) -> None:
    vector = extractor.extract(CLIPS["tone_after_silence"])

    assert vector.dtype == np.float32
    assert np.all(np.isfinite(vector))
    assert vector[feature_names(SPEC).index("duration_s")] == pytest.approx(3.0)


def test_statistics_ignore_silence_around_the_cough(extractor: FeatureExtractor) -> None:
    cough = synth_clip("dry", 4, seconds=1.0)
    padded = np.concatenate([np.zeros(16000, np.float32), cough, np.zeros(32000, np.float32)])

    a, b = extractor.extract(cough), extractor.extract(padded)

    # Everything but the duration is about the cough, not the padding.
    np.testing.assert_allclose(a[:-1], b[:-1], rtol=0.05, atol=0.05 * np.abs(a[:-1]).max())


def test_saved_assets_give_the_same_vector(extractor: FeatureExtractor, tmp_path: Path) -> None:
    build_assets(SPEC).save(tmp_path / "features.npz")
    reloaded = FeatureExtractor(SPEC, FeatureAssets.load(tmp_path / "features.npz"))

    y = CLIPS["wet"]
    np.testing.assert_array_equal(reloaded.extract(y), extractor.extract(y))


def test_spec_round_trips_through_a_dict() -> None:
    assert FeatureSpec.from_dict(SPEC.to_dict()) == SPEC


def test_mismatched_assets_are_refused() -> None:
    with pytest.raises(ValueError, match="do not match"):
        FeatureExtractor(FeatureSpec(n_mels=64), build_assets(SPEC))
