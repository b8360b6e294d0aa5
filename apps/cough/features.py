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
    """Turns mono samples at ``spec.sample_rate`` into the model's feature vector.

    Computes in float32 after the FFT (which runs in float64, numpy's faster one),
    frames along rows (the layout the FFT returns), with every matrix prepared once
    here. Frame-wise values agree with librosa's float64 ones
    to about 1e-4 relative (see tests/unit/cough/test_features.py); the statistics
    the model reads move far less than the spread between clips.
    """

    def __init__(self, spec: FeatureSpec, assets: FeatureAssets) -> None:
        bins = spec.n_fft // 2 + 1
        if assets.mel_basis.shape != (spec.n_mels, bins) or assets.window.shape != (spec.n_fft,):
            raise ValueError("feature assets do not match the feature spec")
        self.spec = spec
        freqs = np.fft.rfftfreq(spec.n_fft, d=1.0 / spec.sample_rate)
        self._band = int(np.searchsorted(freqs, spec.fmax, side="right"))
        self._window64 = assets.window.astype(np.float64)
        # Transposed once so that (frames, bins) @ (bins, n) needs no per-clip copy.
        self._mel_t = np.ascontiguousarray(assets.mel_basis.T, dtype=np.float32)
        self._dct_t = np.ascontiguousarray(assets.dct_basis.T, dtype=np.float32)
        band = freqs[: self._band]
        self._freqs = band.astype(np.float32)
        # Centroid and spread as one product: the columns are f**0, f and f**2.
        self._moments = np.stack([np.ones_like(band), band, band**2], axis=1).astype(np.float32)
        # RMS from the spectrum (Parseval): the DC and Nyquist bins count once, not twice.
        weights = np.full(bins, 2.0 / spec.n_fft**2)
        weights[0] /= 2
        if spec.n_fft % 2 == 0:
            weights[-1] /= 2
        self._rms_weights = weights.astype(np.float32)

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
        return self.analyse(samples)[0]

    def analyse(self, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The feature vector and the power spectrogram it came from, (frames, bins).

        The spectrogram is the one the features were computed from, handed out so a
        picture of the recording (:mod:`apps.cough.spectrogram`) costs no second STFT.
        """
        frames = self._frames(samples)
        level = frames["rms"]
        active = level >= level.max() * np.float32(10 ** (-self.spec.active_db / 20))
        mfcc, delta = frames["mfcc"][active], frames["delta"][active]
        spectral = np.stack([frames[name][active] for name in SPECTRAL], axis=1)
        parts = [
            mfcc.mean(axis=0),
            mfcc.std(axis=0),
            delta.std(axis=0),
            np.stack([spectral.mean(axis=0), spectral.std(axis=0)], axis=1).ravel(),
            [len(samples) / self.spec.sample_rate],
        ]
        return np.concatenate(parts, dtype=np.float32), frames["power"]

    def frame_features(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        """Frame-wise features, shaped as librosa returns them: (n, frames).

        Centroid, bandwidth, rolloff and flatness are those of the spectrum up to
        ``spec.fmax``; RMS is that of the whole spectrum, ZCR of the waveform.
        """
        return {
            name: values.T if values.ndim == 2 else values[None, :]
            for name, values in self._frames(samples).items()
            if name != "power"
        }

    def stft(self, y: np.ndarray) -> np.ndarray:
        """Centered, zero-padded, Hann-windowed STFT: (n_fft // 2 + 1, frames)."""
        return self._stft(np.asarray(y, dtype=np.float32)).T

    def _frames(self, samples: np.ndarray) -> dict[str, np.ndarray]:
        """Frame-wise features with frames along the first axis, and the power spectrum."""
        y = np.asarray(samples, dtype=np.float32)
        if len(y) < self.min_seconds * self.spec.sample_rate:
            raise ValueError(f"need at least {self.min_seconds} s of samples, got {len(y)} samples")
        spectrum = self._stft(y)
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)  # (frames, bins)
        mfcc = self._power_to_db(power @ self._mel_t) @ self._dct_t
        shape_power = power[:, : self._band]  # the spectral shape features see 0..fmax only
        magnitude = np.sqrt(shape_power)
        total, first, second = (magnitude @ self._moments).T
        # All-zero frames have no distribution: every moment stays 0 (as librosa).
        total = np.where(total < np.finfo(np.float32).tiny, np.float32(1), total)
        centroid = first / total
        # sum(p * (f - c)**2) over a distribution p, expanded: no (frames, bins) temporary.
        spread = second / total - centroid**2
        return {
            "mfcc": mfcc,
            "delta": _delta(mfcc, self.spec.delta_width),
            "centroid": centroid,
            "bandwidth": np.sqrt(np.maximum(spread, 0)),
            "rolloff": self._rolloff(magnitude),
            "flatness": _flatness(shape_power),
            "zcr": self._zero_crossing_rate(y),
            "rms": np.sqrt(power @ self._rms_weights),
            "power": power,
        }

    def _stft(self, y: np.ndarray) -> np.ndarray:
        """(frames, n_fft // 2 + 1), complex128."""
        n_fft, hop = self.spec.n_fft, self.spec.hop_length
        padded = np.pad(y, n_fft // 2, mode="constant")
        frames = np.lib.stride_tricks.sliding_window_view(padded, n_fft)[::hop]
        # Windowed in float64: numpy's float64 FFT is about 3x as fast as its float32
        # one here, casts included (scipy's float32 FFT is faster still, but importing
        # scipy.fft would add 0.3 s to a cold start).
        return np.fft.rfft(frames * self._window64, axis=1)

    def _power_to_db(self, mel: np.ndarray) -> np.ndarray:
        db = np.float32(10) * np.log10(np.maximum(np.float32(1e-10), mel))
        return np.maximum(db, db.max() - np.float32(self.spec.top_db))

    def _rolloff(self, magnitude: np.ndarray) -> np.ndarray:
        total = np.cumsum(magnitude, axis=1)
        reached = total >= np.float32(self.spec.roll_percent) * total[:, -1:]
        return self._freqs[np.argmax(reached, axis=1)]

    def _zero_crossing_rate(self, y: np.ndarray) -> np.ndarray:
        n_fft, hop = self.spec.n_fft, self.spec.hop_length
        padded = np.pad(y, n_fft // 2, mode="edge")
        # Values within 1e-10 of zero count as zero (not negative), as in librosa.
        negative = padded < -1e-10
        # Where neighbours change sign, found once; a frame counts those inside it.
        crossings = np.flatnonzero(negative[1:] != negative[:-1])
        starts = np.arange(0, len(padded) - n_fft + 1, hop)
        inside = np.searchsorted(crossings, starts + n_fft - 1) - np.searchsorted(crossings, starts)
        return inside / np.float32(n_fft)


def _flatness(power: np.ndarray) -> np.ndarray:
    """Geometric over arithmetic mean of each frame's power spectrum."""
    floored = np.maximum(np.float32(1e-10), power)
    return np.exp(np.mean(np.log(floored), axis=1)) / np.mean(floored, axis=1)


def _delta(data: np.ndarray, width: int) -> np.ndarray:
    """First-order Savitzky-Golay derivative along frames (axis 0), edges as scipy's "interp" mode."""
    half = width // 2
    frames = len(data)
    if frames < width:
        raise ValueError(f"need at least {width} frames for deltas, got {frames}")
    inner = np.zeros((frames - 2 * half, data.shape[1]), dtype=data.dtype)
    for k in range(1, half + 1):
        inner += k * (data[half + k : frames - half + k] - data[half - k : frames - half - k])
    inner /= 2 * sum(k * k for k in range(1, half + 1))
    # A line fitted to the first/last window has one slope: the edge frames share it.
    return np.concatenate(
        [np.repeat(inner[:1], half, axis=0), inner, np.repeat(inner[-1:], half, axis=0)], axis=0
    )
