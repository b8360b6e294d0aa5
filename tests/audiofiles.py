"""Test audio: real encoded files in every format phones and browsers upload, and bad ones.

Everything is generated in-process with PyAV from numpy samples, so tests need no
fixture files and no network. Generation is deterministic (fixed seeds) and fast;
the expensive makers are cached per process.
"""

from __future__ import annotations

import functools
import io
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class AudioFormat:
    """How to write one upload format: container, codec, and the codec's constraints."""

    container: str
    codec: str
    rate: int | None = None  # None: keep the input rate
    channels: int = 1
    sample_format: str = "s16"
    bit_rate: int | None = None
    container_options: tuple[tuple[str, str], ...] = ()
    codec_options: tuple[tuple[str, str], ...] = ()


FORMATS: dict[str, AudioFormat] = {
    "wav": AudioFormat("wav", "pcm_s16le"),
    "flac": AudioFormat("flac", "flac"),
    # FFmpeg's native Vorbis encoder is experimental and writes stereo only.
    "ogg_vorbis": AudioFormat(
        "ogg",
        "vorbis",
        rate=44100,
        channels=2,
        sample_format="fltp",
        codec_options=(("strict", "experimental"),),
    ),
    "ogg_opus": AudioFormat("ogg", "libopus", rate=48000, sample_format="flt", bit_rate=32000),
    # What a browser's MediaRecorder produces.
    "webm_opus": AudioFormat("webm", "libopus", rate=48000, sample_format="flt", bit_rate=32000),
    # A phone's stereo microphone pair.
    "webm_opus_stereo": AudioFormat(
        "webm", "libopus", rate=48000, channels=2, sample_format="flt", bit_rate=64000
    ),
    # A voice app: Opus in its speech mode (SILK) at 16 kHz and a low bit rate.
    "ogg_opus_voice": AudioFormat(
        "ogg",
        "libopus",
        rate=16000,
        sample_format="flt",
        bit_rate=12000,
        codec_options=(("application", "voip"),),
    ),
    # iOS: AAC in an MP4/M4A container, with and without the index (moov) up front.
    "m4a_aac": AudioFormat(
        "ipod",
        "aac",
        rate=44100,
        sample_format="fltp",
        container_options=(("movflags", "faststart"),),
    ),
    "m4a_aac_no_faststart": AudioFormat("ipod", "aac", rate=44100, sample_format="fltp"),
    "mp3": AudioFormat("mp3", "libmp3lame", rate=44100, sample_format="fltp", bit_rate=64000),
}


def encode(samples: np.ndarray, sample_rate: int, fmt: str) -> bytes:
    """Encode mono float samples in [-1, 1] as a complete file of format ``fmt`` (see FORMATS)."""
    return encode_as(samples, sample_rate, FORMATS[fmt])


def encode_as(samples: np.ndarray, sample_rate: int, spec: AudioFormat) -> bytes:
    """Encode mono float samples as a complete file written as ``spec`` says."""
    return _encode(np.asarray(samples, dtype=np.float32), sample_rate, spec)


def _encode(samples: np.ndarray, sample_rate: int, spec: AudioFormat) -> bytes:
    # A real file, not a BytesIO: "faststart" rewrites the file to move the index up front.
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "audio"
        _encode_to(path, samples, sample_rate, spec)
        return path.read_bytes()


def _encode_to(path: Path, samples: np.ndarray, sample_rate: int, spec: AudioFormat) -> None:
    options = dict(spec.container_options)
    with av.open(str(path), mode="w", format=spec.container, options=options) as box:
        rate = spec.rate or sample_rate
        stream = box.add_stream(spec.codec, rate=rate, options=dict(spec.codec_options))
        assert isinstance(stream, av.AudioStream)
        stream.layout = "stereo" if spec.channels == 2 else "mono"
        stream.format = spec.sample_format
        if spec.bit_rate:
            stream.bit_rate = spec.bit_rate
        resampler = av.AudioResampler(format=spec.sample_format, layout=stream.layout, rate=rate)
        for frame in _frames(samples, sample_rate):
            for converted in resampler.resample(frame):
                box.mux(stream.encode(converted))
        for converted in resampler.resample(None):
            box.mux(stream.encode(converted))
        box.mux(stream.encode(None))


def _frames(samples: np.ndarray, sample_rate: int, block: int = 4096) -> Iterator[av.AudioFrame]:
    pts = 0
    for start in range(0, len(samples), block):
        chunk = samples[start : start + block]
        frame = av.AudioFrame.from_ndarray(chunk.reshape(1, -1), format="flt", layout="mono")
        frame.sample_rate = sample_rate
        frame.pts = pts
        frame.time_base = Fraction(1, sample_rate)
        pts += len(chunk)
        yield frame


def wav_bytes(samples: np.ndarray, sample_rate: int, *, bits: int = 16) -> bytes:
    """A PCM WAV written directly (8-bit unsigned or 16-bit signed): instant for long files."""
    clipped = np.clip(np.asarray(samples, dtype=np.float64), -1.0, 1.0)
    if bits == 8:
        pcm = np.round(clipped * 127.0 + 128.0).astype(np.uint8).tobytes()
    else:
        pcm = np.round(clipped * 32767.0).astype("<i2").tobytes()
    return _wav_header(len(pcm), sample_rate, bits) + pcm


def _wav_header(data_bytes: int, sample_rate: int, bits: int) -> bytes:
    width = bits // 8
    fmt = struct.pack("<IHHIIHH", 16, 1, 1, sample_rate, sample_rate * width, width, bits)
    riff = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
    return riff + b"fmt " + fmt + b"data" + struct.pack("<I", data_bytes)


def tone(
    seconds: float,
    *,
    sample_rate: int = SAMPLE_RATE,
    freq: float = 440.0,
    amplitude: float = 0.3,
    seed: int = 0,
) -> np.ndarray:
    """A tone with a little noise: a plain, clearly non-silent test signal."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * sample_rate)) / sample_rate
    signal = amplitude * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    return signal.astype(np.float32)


# --- bad inputs ------------------------------------------------------------------------


def empty_file() -> bytes:
    return b""


def random_bytes(size: int = 64 * 1024, seed: int = 0) -> bytes:
    return np.random.default_rng(seed).integers(0, 256, size, dtype=np.uint8).tobytes()


def png_image(width: int = 32, height: int = 32) -> bytes:
    """A small valid PNG: a real file that is not audio."""
    rows = b"".join(
        b"\x00" + bytes((x * 7 + y * 3) % 256 for x in range(width * 3)) for y in range(height)
    )

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def truncated_wav(seconds: float = 2.0, keep: float = 0.4) -> bytes:
    """A WAV cut off part way: its header promises more audio than the file holds."""
    data = encode(tone(seconds), SAMPLE_RATE, "wav")
    return data[: int(len(data) * keep)]


def truncated_ogg() -> bytes:
    """An Ogg/Opus file cut inside its headers: a recognized container with no decodable audio."""
    data = encode(tone(2.0), SAMPLE_RATE, "ogg_opus")
    return data[:100]


def video_without_audio(frames: int = 10) -> bytes:
    """A short MP4 with one MPEG-4 video stream and no audio track."""
    out = io.BytesIO()
    with av.open(out, mode="w", format="mp4") as box:
        stream = box.add_stream("mpeg4", rate=10)
        assert isinstance(stream, av.VideoStream)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        for i in range(frames):
            image = np.full((48, 64, 3), (i * 20) % 256, dtype=np.uint8)
            box.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        box.mux(stream.encode(None))
    return out.getvalue()


@functools.cache
def ten_minute_wav() -> bytes:
    """600 s of 8-bit 8 kHz mono WAV: 4.8 MB, under the upload limit, over the length limit."""
    return wav_bytes(tone(600.0, sample_rate=8000, freq=300.0), 8000, bits=8)


@functools.cache
def ten_minute_stream() -> bytes:
    """600 s of low-rate Opus in a live-mode WebM (about 0.5 MB): like a browser's
    MediaRecorder output, the container declares no duration, so only decoding can tell."""
    spec = AudioFormat(
        "webm",
        "libopus",
        rate=8000,
        sample_format="flt",
        bit_rate=6000,
        container_options=(("live", "1"),),
        codec_options=(("compression_level", "0"), ("application", "lowdelay")),
    )
    return _encode(tone(600.0, sample_rate=8000, freq=300.0), 8000, spec)


def short_clip(seconds: float = 0.1, fmt: str = "wav") -> bytes:
    return encode(tone(seconds), SAMPLE_RATE, fmt)


def silence(seconds: float = 2.0, fmt: str = "wav") -> bytes:
    return encode(np.zeros(round(seconds * SAMPLE_RATE), dtype=np.float32), SAMPLE_RATE, fmt)


@functools.cache
def fifty_megabytes() -> bytes:
    """A valid 50 MB WAV (about 26 min of 16 kHz 16-bit audio): over the upload limit."""
    n = 25 * 1024 * 1024
    pcm = np.random.default_rng(0).integers(-3000, 3000, n, dtype=np.int16).astype("<i2").tobytes()
    return _wav_header(len(pcm), SAMPLE_RATE, 16) + pcm


BAD_INPUTS: dict[str, Callable[[], bytes]] = {
    "empty": empty_file,
    "random_bytes": random_bytes,
    "png_image": png_image,
    "truncated_wav": truncated_wav,
    "truncated_ogg": truncated_ogg,
    "video_without_audio": video_without_audio,
    "ten_minute_wav": ten_minute_wav,
    "ten_minute_stream": ten_minute_stream,
    "short_clip": short_clip,
    "silence": silence,
    "fifty_megabytes": fifty_megabytes,
}
