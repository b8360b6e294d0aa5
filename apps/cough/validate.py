"""Checks on decoded samples: long enough to hold a cough, and not silent."""

from __future__ import annotations

import numpy as np

from apps.cough.errors import SilentAudio, TooLong, TooShort

# -60 dBFS RMS over the whole clip: below any real recording's noise floor plus a
# cough, above what a muted microphone or digital silence produces after a codec.
SILENCE_RMS = 1e-3
# Encoder priming and padding make a recording a little longer than what was said.
DURATION_SLACK_S = 0.25


def check_recording(
    samples: np.ndarray, sample_rate: int, *, min_seconds: float, max_seconds: float
) -> float:
    """Validate decoded mono samples; return the duration in seconds.

    Raises TooShort, TooLong or SilentAudio (PermanentError) with the limit in the message.
    """
    duration = len(samples) / sample_rate
    if duration < min_seconds:
        raise TooShort(f"recording is {duration:.2f} s long; the minimum is {min_seconds:g} s")
    if duration > max_seconds + DURATION_SLACK_S:
        raise TooLong(f"recording is {duration:.1f} s long; the maximum is {max_seconds:g} s")
    level = rms(samples)
    if level < SILENCE_RMS:
        db = 20 * np.log10(max(level, 1e-12))
        raise SilentAudio(
            f"recording is silent (level {db:.0f} dBFS; at least {20 * np.log10(SILENCE_RMS):.0f} "
            "dBFS is needed)"
        )
    return duration


def rms(samples: np.ndarray) -> float:
    """Root-mean-square level of the samples (0 for an empty array)."""
    if samples.size == 0:
        return 0.0
    return float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
