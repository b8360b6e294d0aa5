"""Decoding uploads: every format phones and browsers produce, and every way a file can be bad."""

from __future__ import annotations

import numpy as np
import pytest

from apps.cough.decode import decode_audio
from apps.cough.validate import check_recording
from tests import audiofiles
from tributary.config import Settings
from tributary.errors import PermanentError

LIMITS = Settings()
RATE = 16000


def load(data: bytes) -> np.ndarray:
    """Decode and validate with the production limits, as the app does."""
    samples = decode_audio(
        data,
        sample_rate=RATE,
        max_seconds=LIMITS.cough_max_seconds,
        max_bytes=LIMITS.max_upload_bytes,
    )
    check_recording(
        samples, RATE, min_seconds=LIMITS.cough_min_seconds, max_seconds=LIMITS.cough_max_seconds
    )
    return samples


def dominant_frequency(samples: np.ndarray, sample_rate: int) -> float:
    spectrum = np.abs(np.fft.rfft(samples * np.hanning(len(samples))))
    return float(np.fft.rfftfreq(len(samples), 1 / sample_rate)[spectrum.argmax()])


@pytest.mark.parametrize("fmt", sorted(audiofiles.FORMATS))
def test_every_upload_format_decodes_to_mono_float32_at_the_requested_rate(fmt: str) -> None:
    data = audiofiles.encode(audiofiles.tone(2.0, freq=440.0), RATE, fmt)

    samples = load(data)

    assert samples.dtype == np.float32
    assert samples.ndim == 1
    assert len(samples) / RATE == pytest.approx(2.0, abs=0.05)
    assert dominant_frequency(samples, RATE) == pytest.approx(440.0, abs=5.0)
    assert 0.15 < np.sqrt(np.mean(samples**2)) < 0.25  # the tone's level survives


@pytest.mark.parametrize("rate", [8000, 22050])
def test_decoding_resamples_to_any_rate(rate: int) -> None:
    data = audiofiles.encode(audiofiles.tone(1.5, freq=300.0), RATE, "ogg_opus")

    samples = decode_audio(data, sample_rate=rate, max_seconds=30)

    assert len(samples) / rate == pytest.approx(1.5, abs=0.05)
    assert dominant_frequency(samples, rate) == pytest.approx(300.0, abs=5.0)


def test_m4a_files_decode_with_the_index_at_either_end() -> None:
    clip = audiofiles.tone(2.0)
    faststart = audiofiles.encode(clip, RATE, "m4a_aac")
    ios_style = audiofiles.encode(clip, RATE, "m4a_aac_no_faststart")
    # The fixtures really differ where it matters: the moov atom's position.
    assert faststart.find(b"moov") < faststart.find(b"mdat")
    assert ios_style.find(b"moov") > ios_style.find(b"mdat")

    assert len(load(ios_style)) == len(load(faststart))


BAD_INPUTS = {
    "empty": "empty_input",
    "random_bytes": "unsupported_media",
    "png_image": "unsupported_media",
    "truncated_wav": "corrupt_media",
    "truncated_ogg": "corrupt_media",
    "video_without_audio": "no_audio_stream",
    "ten_minute_wav": "too_long",
    "ten_minute_stream": "too_long",
    "short_clip": "too_short",
    "silence": "silent_audio",
    "fifty_megabytes": "too_large",
}


def test_every_bad_input_has_an_expected_code() -> None:
    assert set(BAD_INPUTS) == set(audiofiles.BAD_INPUTS)


@pytest.mark.parametrize(("name", "code"), sorted(BAD_INPUTS.items()))
def test_bad_input_is_rejected_with_its_code(name: str, code: str) -> None:
    data = audiofiles.BAD_INPUTS[name]()

    with pytest.raises(PermanentError) as caught:
        load(data)

    assert caught.value.code == code
    assert caught.value.message
    assert "Traceback" not in caught.value.message


@pytest.mark.parametrize("name", ["ten_minute_wav", "ten_minute_stream"])
def test_a_ten_minute_recording_is_rejected_with_its_length(name: str) -> None:
    data = audiofiles.BAD_INPUTS[name]()
    assert len(data) < LIMITS.max_upload_bytes  # too long, not too large

    with pytest.raises(PermanentError) as caught:
        load(data)

    assert caught.value.code == "too_long"
    assert "30 s" in caught.value.message
    if name == "ten_minute_wav":  # the header states the length
        assert "600.0 s" in caught.value.message


def test_limits_are_in_the_messages() -> None:
    with pytest.raises(PermanentError, match=r"0\.10 s long; the minimum is 0\.3 s"):
        load(audiofiles.short_clip(0.1))
    with pytest.raises(PermanentError, match=r"50\.0 MB; the maximum is 10\.0 MB"):
        load(audiofiles.fifty_megabytes())


def test_a_recording_just_under_the_maximum_is_accepted() -> None:
    data = audiofiles.wav_bytes(audiofiles.tone(29.9, sample_rate=8000), 8000)

    assert len(load(data)) / RATE == pytest.approx(29.9, abs=0.01)


@pytest.mark.parametrize(
    ("fmt", "keep"),
    [("m4a_aac_no_faststart", 0.5), ("m4a_aac", 0.5), ("flac", 0.5), ("webm_opus", 0.02)],
)
def test_truncated_files_of_other_formats_are_corrupt(fmt: str, keep: float) -> None:
    data = audiofiles.encode(audiofiles.tone(3.0), RATE, fmt)

    with pytest.raises(PermanentError) as caught:
        load(data[: int(len(data) * keep)])

    assert caught.value.code == "corrupt_media"


@pytest.mark.parametrize(
    "data", [b"hello, this is a text file\n" * 100, b"%PDF-1.4\n" + bytes(2000), b"\x00" * 4096]
)
def test_non_media_files_are_unsupported(data: bytes) -> None:
    with pytest.raises(PermanentError) as caught:
        load(data)

    assert caught.value.code == "unsupported_media"


@pytest.mark.parametrize("fmt", sorted(audiofiles.FORMATS))
def test_damaged_files_only_ever_raise_permanent_errors(fmt: str) -> None:
    data = audiofiles.encode(audiofiles.tone(2.0), RATE, fmt)
    rng = np.random.default_rng(0)
    damaged = [data[: int(len(data) * keep)] for keep in (0.005, 0.05, 0.3, 0.7, 0.95)]
    for _ in range(4):  # random bytes overwritten in the middle of the file
        corrupted = bytearray(data)
        start = int(rng.integers(len(data) // 4, len(data) // 2))
        corrupted[start : start + 256] = rng.integers(0, 256, 256, dtype=np.uint8).tobytes()
        damaged.append(bytes(corrupted))

    for variant in damaged:
        try:
            samples = load(variant)
        except PermanentError as exc:
            assert exc.code in {"corrupt_media", "unsupported_media", "too_short"}, exc.code
        else:
            assert samples.dtype == np.float32 and np.all(np.isfinite(samples))


def test_frames_gathered_a_second_at_a_time_keep_every_sample_and_refuse_a_shape_change() -> None:
    import av

    from apps.cough.decode import _BatchedResampler

    def frame(values: np.ndarray, fmt: str, layout: str, rate: int) -> av.AudioFrame:
        made = av.AudioFrame.from_ndarray(values, format=fmt, layout=layout)
        made.sample_rate = rate
        return made

    tone = audiofiles.tone(2.5, freq=440.0, sample_rate=48000).astype(np.float32)
    batched = _BatchedResampler(RATE)
    for start in range(0, len(tone), 960):  # 20-ms frames, as Opus decodes
        batched.add(frame(tone[None, start : start + 960], "fltp", "mono", 48000))
    samples = batched.finish()
    assert len(samples) == 2.5 * RATE
    assert abs(dominant_frequency(samples, RATE) - 440.0) < 2.0

    # Frames whose format changes mid-stream: what came before is converted, then
    # the resampler refuses the new shape (decode_audio reports it as corrupt_media).
    changed = _BatchedResampler(RATE)
    changed.add(frame(tone[None, :960], "fltp", "mono", 48000))
    with pytest.raises(ValueError, match="does not match"):
        changed.add(frame(np.zeros((1, 2 * 441), np.int16), "s16", "stereo", 44100))
        changed.finish()


def test_each_family_named_by_magic_bytes_opens_with_an_allowed_demuxer() -> None:
    import av

    from apps.cough.decode import _DEMUXER_OF_FAMILY, _DEMUXERS

    allowed = set(_DEMUXERS.split(","))
    for family, demuxer in _DEMUXER_OF_FAMILY.items():
        assert demuxer in allowed, family
        assert av.ContainerFormat(demuxer, "r").name.split(",")[0] == demuxer, family
