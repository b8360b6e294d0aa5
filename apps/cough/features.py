"""The cough feature vector: MFCC and spectral statistics from one shared STFT.

Serving is numpy only. Importing ``librosa.feature`` costs seconds (numba), so the
mel filterbank, DCT basis and window are computed with librosa once, when a model
is built (:func:`build_assets`), and saved with the model; :class:`FeatureExtractor`
then reproduces ``librosa.feature.mfcc``, ``delta``, ``spectral_centroid``,
``spectral_bandwidth``, ``spectral_rolloff``, ``spectral_flatness``,
``zero_crossing_rate`` and ``rms(S=...)`` numerically (a unit test holds it to that).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

FEATURES_VERSION = "cough-features-1"
SPECTRAL = ("centroid", "bandwidth", "rolloff", "flatness", "zcr", "rms")


@dataclass(frozen=True)
class FeatureSpec:
    """Every parameter the features depend on; stored in the model's meta.json."""

    sample_rate: int = 16000
    n_fft: int = 512  # 32 ms
    hop_length: int = 160  # 10 ms
    n_mels: int = 40
    n_mfcc: int = 20
    fmin: float = 0.0
    # Below Nyquist (8 kHz): resamplers roll off the top of the band, so 7-8 kHz
    # differs between a 16 kHz upload and a 48 kHz one; no feature looks there.
    fmax: float = 7000.0
    top_db: float = 80.0
    roll_percent: float = 0.85
    delta_width: int = 9
    active_db: float = 20.0
    version: str = FEATURES_VERSION

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureSpec:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @property
    def size(self) -> int:
        return len(feature_names(self))


@dataclass(frozen=True)
class FeatureAssets:
    """Precomputed matrices: analysis window, mel filterbank, DCT-II (orthonormal) basis."""

    window: np.ndarray  # (n_fft,)
    mel_basis: np.ndarray  # (n_mels, n_fft // 2 + 1), float32 as librosa makes it
    dct_basis: np.ndarray  # (n_mfcc, n_mels)

    def save(self, path: Path) -> None:
        with path.open("wb") as fh:
            np.savez(fh, window=self.window, mel_basis=self.mel_basis, dct_basis=self.dct_basis)

    @classmethod
    def load(cls, path: Path) -> FeatureAssets:
        with np.load(path) as data:
            return cls(data["window"], data["mel_basis"], data["dct_basis"])


def feature_names(spec: FeatureSpec) -> list[str]:
    """Names of the vector's entries, in order."""
    names = [f"mfcc{i}_mean" for i in range(spec.n_mfcc)]
    names += [f"mfcc{i}_std" for i in range(spec.n_mfcc)]
    names += [f"mfcc{i}_delta_std" for i in range(spec.n_mfcc)]
    for name in SPECTRAL:
        names += [f"{name}_mean", f"{name}_std"]
    return [*names, "duration_s"]


def build_assets(spec: FeatureSpec) -> FeatureAssets:
    """Compute the matrices with librosa and scipy (model-build time only: slow to import)."""
    import librosa.filters
    import scipy.fft

    window = librosa.filters.get_window("hann", spec.n_fft, fftbins=True)
    mel_basis = librosa.filters.mel(
        sr=spec.sample_rate, n_fft=spec.n_fft, n_mels=spec.n_mels, fmin=spec.fmin, fmax=spec.fmax
    )
    dct = scipy.fft.dct(np.eye(spec.n_mels), type=2, norm="ortho", axis=0)[: spec.n_mfcc]
    return FeatureAssets(np.asarray(window, dtype=np.float64), mel_basis, dct)


class FeatureExtractor:
    """Turns mono samples at ``spec.sample_rate`` into the model's feature vector."""

    def __init__(self, spec: FeatureSpec, assets: FeatureAssets) -> None:
        bins = spec.n_fft // 2 + 1
        if assets.mel_basis.shape != (spec.n_mels, bins) or assets.window.shape != (spec.n_fft,):
            raise ValueError("feature assets do not match the feature spec")
        self.spec = spec
        self._window = assets.window.astype(np.float64)
        self._mel = assets.mel_basis.astype(np.float64)
        self._dct = assets.dct_basis.astype(np.float64)
        freqs = np.fft.rfftfreq(spec.n_fft, d=1.0 / spec.sample_rate)
        self._band = int(np.searchsorted(freqs, spec.fmax, side="right"))
        self._freqs = freqs[: self._band]

    @property
    def min_seconds(self) -> float:
        """The shortest input with enough frames for deltas."""
        samples = max(self.spec.n_fft, (self.spec.delta_width - 1) * self.spec.hop_length)
        return samples / self.spec.sample_rate

    def extract(self, samples: np.ndarray) -> np.ndarray:
        """The feature vector (float32, length ``spec.size``).

        Statistics are taken over the *active* frames only (RMS within
        ``spec.active_db`` of the loudest): the cough itself, not the silence or
        background around it, which lossy codecs reshape and recorders vary.
        """
        frames = self.frame_features(samples)
        level = frames["rms"][0]
        active = level >= level.max() * 10 ** (-self.spec.active_db / 20)
        mfcc, delta = frames["mfcc"][:, active], frames["delta"][:, active]
        parts = [mfcc.mean(axis=1), mfcc.std(axis=1), delta.std(axis=1)]
        for name in SPECTRAL:
            series = frames[name][0, active]
            parts.append(np.array([series.mean(), series.std()]))
        parts.append(np.array([len(samples) / self.spec.sample_rate]))
        return np.concatenate(parts).astype(np.float32)

    def frame_features(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        """Frame-wise features, shaped as librosa returns them: (n, frames).

        Centroid, bandwidth, rolloff and flatness are those of the spectrum up to
        ``spec.fmax``; RMS is that of the whole spectrum, ZCR of the waveform.
        """
        y = np.asarray(samples, dtype=np.float64)
        if len(y) < self.min_seconds * self.spec.sample_rate:
            raise ValueError(f"need at least {self.min_seconds} s of samples, got {len(y)} samples")
        full = np.abs(self.stft(y))
        power = full**2
        mfcc = self._dct @ self._power_to_db(self._mel @ power)
        magnitude = full[: self._band]  # the spectral shape features see 0..fmax only
        norm = _normalize_columns(magnitude)
        centroid = self._freqs @ norm
        # sum(norm * (f - c)**2) expanded: no (bins, frames) temporary.
        spread = self._freqs**2 @ norm - 2 * centroid * centroid + centroid**2 * norm.sum(axis=0)
        bandwidth = np.sqrt(np.maximum(spread, 0.0))
        return {
            "mfcc": mfcc,
            "delta": _delta(mfcc, self.spec.delta_width),
            "centroid": centroid[None, :],
            "bandwidth": bandwidth[None, :],
            "rolloff": self._rolloff(magnitude)[None, :],
            "flatness": _flatness(magnitude**2)[None, :],
            "zcr": self._zero_crossing_rate(y)[None, :],
            "rms": self._rms(power)[None, :],
        }

    def stft(self, y: np.ndarray) -> np.ndarray:
        """Centered, zero-padded, Hann-windowed STFT: (n_fft // 2 + 1, frames)."""
        n_fft, hop = self.spec.n_fft, self.spec.hop_length
        padded = np.pad(y, n_fft // 2, mode="constant")
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
        return np.fft.rfft(frames * self._window, axis=1).T

    def _power_to_db(self, mel: np.ndarray) -> np.ndarray:
        db = 10.0 * np.log10(np.maximum(1e-10, mel))
        return np.maximum(db, db.max() - self.spec.top_db)

    def _rolloff(self, magnitude: np.ndarray) -> np.ndarray:
        total = np.cumsum(magnitude, axis=0)
        reached = total >= self.spec.roll_percent * total[-1]
        return self._freqs[np.argmax(reached, axis=0)]

    def _zero_crossing_rate(self, y: np.ndarray) -> np.ndarray:
        n_fft, hop = self.spec.n_fft, self.spec.hop_length
        padded = np.pad(y, n_fft // 2, mode="edge")
        padded = np.where(np.abs(padded) <= 1e-10, 0.0, padded)
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
        sign = np.signbit(frames)
        return np.count_nonzero(sign[:, 1:] != sign[:, :-1], axis=1) / n_fft

    def _rms(self, power: np.ndarray) -> np.ndarray:
        weighted = power.copy()
        weighted[0] *= 0.5
        if self.spec.n_fft % 2 == 0:
            weighted[-1] *= 0.5
        return np.sqrt(2.0 * weighted.sum(axis=0) / self.spec.n_fft**2)


def _normalize_columns(magnitude: np.ndarray) -> np.ndarray:
    """Each frame as a distribution over bins; all-zero frames stay zero (as librosa)."""
    total = magnitude.sum(axis=0)
    total = np.where(total < np.finfo(magnitude.dtype).tiny, 1.0, total)
    return magnitude / total


def _flatness(power: np.ndarray) -> np.ndarray:
    floored = np.maximum(1e-10, power)
    return np.exp(np.mean(np.log(floored), axis=0)) / np.mean(floored, axis=0)


def _delta(data: np.ndarray, width: int) -> np.ndarray:
    """First-order Savitzky-Golay derivative along frames, edges as scipy's "interp" mode."""
    half = width // 2
    if data.shape[1] < width:
        raise ValueError(f"need at least {width} frames for deltas, got {data.shape[1]}")
    k = np.arange(-half, half + 1, dtype=np.float64)
    windows = np.lib.stride_tricks.sliding_window_view(data, width, axis=1)
    inner = windows @ k / np.sum(k**2)
    # A line fitted to the first/last window has one slope: the edge frames share it.
    return np.concatenate(
        [np.repeat(inner[:, :1], half, axis=1), inner, np.repeat(inner[:, -1:], half, axis=1)],
        axis=1,
    )
