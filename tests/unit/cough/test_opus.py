"""Opus decoded by libopus at the model's rate gives the recording FFmpeg's path gives."""

from __future__ import annotations

import io

import av
import numpy as np
import pytest

from apps.cough import opus
from apps.cough.decode import decode_audio
from apps.cough.synth import synth_clip
from tests import audiofiles

RATE = 16000
OPUS_FORMATS = ["webm_opus", "ogg_opus", "webm_opus_stereo", "ogg_opus_voice"]


def decode(data: bytes, rate: int = RATE) -> np.ndarray:
    return decode_audio(data, sample_rate=rate, max_seconds=30)


def decode_with_ffmpeg(
    data: bytes, monkeypatch: pytest.MonkeyPatch, rate: int = RATE
) -> np.ndarray:
    """The path every other codec takes, and Opus takes where no libopus loads."""
    with monkeypatch.context() as patched:
        patched.setattr(opus, "load_library", lambda: None)
        return decode(data, rate)


def takes_libopus(data: bytes, rate: int = RATE) -> bool:
    with av.open(io.BytesIO(data)) as container:
        decoder = opus.decoder_for(container.streams.audio[0], rate, capacity=rate)
        if decoder is None:
            return False
        decoder.close()
        return True


def level_db(samples: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(samples.astype(np.float64) ** 2))))


def test_the_libopus_pyav_ships_with_is_found() -> None:
    assert opus.load_library() is not None


@pytest.mark.parametrize("fmt", OPUS_FORMATS)
@pytest.mark.parametrize("kind", ["dry", "wet"])
def test_libopus_decodes_the_same_recording_as_ffmpeg(
    fmt: str, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    clip = synth_clip(kind, seed=3, seconds=2.0)
    data = audiofiles.encode(clip, audiofiles.SAMPLE_RATE, fmt)
    assert takes_libopus(data)

    ours, ffmpegs = decode(data), decode_with_ffmpeg(data, monkeypatch)

    # Same samples in the same places: the encoder's delay and the last packet's
    # padding are trimmed alike (one sample off would drop the correlation far below).
    assert len(ours) == len(ffmpegs)
    assert np.corrcoef(ours, ffmpegs)[0, 1] > 0.99
    assert level_db(ours) == pytest.approx(level_db(ffmpegs), abs=0.5)


def test_rates_libopus_cannot_decode_to_go_through_ffmpeg() -> None:
    data = audiofiles.encode(audiofiles.tone(1.0), audiofiles.SAMPLE_RATE, "webm_opus")

    assert takes_libopus(data, 8000)
    assert not takes_libopus(data, 22050)


def test_other_codecs_go_through_ffmpeg() -> None:
    data = audiofiles.encode(audiofiles.tone(1.0), audiofiles.SAMPLE_RATE, "ogg_vorbis")

    assert not takes_libopus(data)


def test_the_headers_output_gain_is_applied_as_ffmpeg_applies_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain = _webm_without_checksums(audiofiles.tone(1.0, amplitude=0.1))
    louder = _with_output_gain(plain, decibels=6.0)

    for decoded in (decode, lambda data: decode_with_ffmpeg(data, monkeypatch)):
        assert level_db(decoded(louder)) - level_db(decoded(plain)) == pytest.approx(6.0, abs=0.1)


def _webm_without_checksums(samples: np.ndarray) -> bytes:
    """A WebM/Opus file whose header bytes may be edited (no CRC-32 elements)."""
    spec = audiofiles.FORMATS["webm_opus"]
    unchecked = audiofiles.AudioFormat(
        spec.container,
        spec.codec,
        rate=spec.rate,
        sample_format=spec.sample_format,
        bit_rate=spec.bit_rate,
        container_options=(("write_crc32", "0"),),
    )
    return audiofiles.encode_as(samples, audiofiles.SAMPLE_RATE, unchecked)


def _with_output_gain(data: bytes, decibels: float) -> bytes:
    """The same file with the OpusHead's output gain (Q7.8 dB at byte 16) set."""
    head = data.index(b"OpusHead")
    edited = bytearray(data)
    edited[head + 16 : head + 18] = round(decibels * 256).to_bytes(2, "little", signed=True)
    return bytes(edited)
