"""A small spectrogram picture of a recording (PNG), for the result card.

Drawn from the power spectrogram the features were computed from
(:meth:`apps.cough.features.FeatureExtractor.analyse`), so it costs no second STFT:
about a millisecond for a 5-s clip. Time runs left to right, low frequencies at the
bottom (up to Nyquist), loudness in a dark-to-bright colour scale over the top 80 dB
of the recording.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image

PNG_CONTENT_TYPE = "image/png"
FILE_NAME = "spectrogram.png"
_HEIGHT = 128
_WIDTH = 480
_DYNAMIC_RANGE_DB = 80.0
# Colour stops from quiet to loud: near-black blue, violet, red-orange, pale yellow.
_STOPS = np.array([0.0, 0.35, 0.7, 1.0])
_COLOURS = np.array([[12, 10, 40], [110, 30, 130], [235, 90, 50], [252, 240, 160]], dtype=float)
# Deflate level 1 took ~2 ms a picture and saved ~15 % of 60 kB; a stored PNG
# (level 0) costs a tenth of that.
_COMPRESS_LEVEL = 0


def render_spectrogram(power: np.ndarray) -> bytes:
    """A PNG of a power spectrogram shaped (frames, bins): bins from 0 Hz to Nyquist."""
    power = np.asarray(power, dtype=np.float32)
    if power.ndim != 2 or power.size == 0:
        raise ValueError(f"need a (frames, bins) power spectrogram, got shape {power.shape}")
    decibels = np.float32(10) * np.log10(np.maximum(power, np.float32(1e-12)))
    floor = decibels.max() - np.float32(_DYNAMIC_RANGE_DB)
    scale = np.float32(255 / _DYNAMIC_RANGE_DB)
    shades = ((np.maximum(decibels, floor) - floor) * scale).astype(np.uint8)
    # Rows: frequency bins, highest first, so low frequencies end up at the bottom.
    # Resize the shades, then colour them through a 256-entry palette: a paletted PNG
    # is small and quick to encode.
    image = Image.fromarray(np.ascontiguousarray(shades.T[::-1]), mode="L")
    image = image.resize((_WIDTH, _HEIGHT), Image.Resampling.BILINEAR)
    picture = Image.frombytes("P", image.size, image.tobytes())
    picture.putpalette(_PALETTE)
    out = io.BytesIO()
    picture.save(out, format="PNG", compress_level=_COMPRESS_LEVEL)
    return out.getvalue()


def _palette() -> bytes:
    ramp = np.linspace(0.0, 1.0, 256)
    rgb = np.stack([np.interp(ramp, _STOPS, _COLOURS[:, c]) for c in range(3)], axis=-1)
    return rgb.round().astype(np.uint8).tobytes()


_PALETTE = _palette()
