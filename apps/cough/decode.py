"""Uploaded bytes → mono float32 samples at one rate, in-process with PyAV.

Reads what phones and browsers record: WAV, FLAC, Ogg (Vorbis, Opus), WebM/Matroska
(Opus, as MediaRecorder writes it), MP4/M4A (AAC, with the index at either end of
the file) and MP3. Work is bounded: the size is checked before anything is parsed,
a declared duration over the limit is rejected before decoding, and decoding stops
as soon as the limit is passed. Every failure is a PermanentError with its own code;
no PyAV exception escapes.
"""

from __future__ import annotations

import io
import struct

import av
import numpy as np

from apps.cough import opus
from apps.cough.errors import (
    CorruptMedia,
    EmptyInput,
    NoAudioStream,
    TooLarge,
    TooLong,
    UnsupportedMedia,
)
from apps.cough.validate import DURATION_SLACK_S
from tributary.errors import PermanentError

# Demuxers FFmpeg may pick; anything else (images, subtitles, playlists, the
# hundreds of exotic formats a probe can match on random bytes) is refused.
_DEMUXERS = "wav,w64,flac,ogg,matroska,mov,mp3,aac,aiff,caf,amr"
# The demuxer for a family the magic bytes name for certain: opened directly, the
# file skips FFmpeg's probe of every whitelisted demuxer (~0.2 ms). MP3 and ADTS
# AAC share their magic, so those are probed.
_DEMUXER_OF_FAMILY = {
    "WAV": "wav",
    "FLAC": "flac",
    "Ogg": "ogg",
    "WebM/Matroska": "matroska",
    "MP4/M4A": "mov",
    "AIFF": "aiff",
    "CAF": "caf",
    "AMR": "amr",
}
# Containers whose duration FFmpeg can only estimate from the bit rate: never
# reject on the estimate, decode and count instead.
_ESTIMATED_DURATION = ("mp3", "aac")
# Undecodable packets tolerated before a file counts as corrupt (a glitch, not damage).
_MAX_BAD_PACKET_FRACTION = 0.1

SUPPORTED = "WAV, FLAC, Ogg (Vorbis/Opus), WebM (Opus), M4A/MP4 (AAC) or MP3"


def decode_audio(
    data: bytes,
    *,
    sample_rate: int = 16000,
    max_seconds: float,
    max_bytes: int | None = None,
) -> np.ndarray:
    """Decode an audio file to mono float32 samples at ``sample_rate``.

    Raises EmptyInput, TooLarge, UnsupportedMedia, CorruptMedia, NoAudioStream or
    TooLong (all PermanentError) when the file cannot give a usable recording.
    """
    if not data:
        raise EmptyInput("the file is empty")
    if max_bytes is not None and len(data) > max_bytes:
        raise TooLarge(f"file is {_mb(len(data))} MB; the maximum is {_mb(max_bytes)} MB")
    family = sniff_container(data)
    if family == "WAV":
        _check_wav_complete(data)
    try:
        container = av.open(
            io.BytesIO(data),
            mode="r",
            format=_DEMUXER_OF_FAMILY.get(family or ""),
            options={"format_whitelist": _DEMUXERS},
        )
    except Exception as exc:
        if family is not None:
            raise CorruptMedia(
                f"the file looks like {family} but cannot be read; it may be damaged or truncated"
            ) from exc
        raise UnsupportedMedia(
            f"the file is not audio in a supported format ({SUPPORTED})"
        ) from exc
    try:
        with container:
            return _decode_container(container, sample_rate, max_seconds)
    except PermanentError:
        raise
    except Exception as exc:  # anything FFmpeg or PyAV raises on damaged input
        raise CorruptMedia(f"the audio could not be decoded: {_reason(exc)}") from exc


def sniff_container(data: bytes) -> str | None:
    """The container family the file's magic bytes announce, or None if none we know."""
    head = data[:12]
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "Ogg"
    if head[:4] == b"\x1aE\xdf\xa3":
        return "WebM/Matroska"
    if head[4:8] == b"ftyp":
        return "MP4/M4A"
    if head[:3] == b"ID3" or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "MP3/AAC"
    if head[:4] == b"FORM" and head[8:11] == b"AIF":
        return "AIFF"
    if head[:4] == b"caff":
        return "CAF"
    if head[:5] == b"#!AMR":
        return "AMR"
    return None


def _decode_container(
    container: av.container.InputContainer, sample_rate: int, max_seconds: float
) -> np.ndarray:
    if not container.streams.audio:
        if container.streams.video or container.streams.subtitles:
            raise NoAudioStream("the file has no audio track (only video or subtitles)")
        # No tracks, or only opaque data: e.g. an MP4 cut off inside its index.
        raise CorruptMedia("the file has no readable tracks; it may be damaged or truncated")
    stream = container.streams.audio[0]
    declared = _declared_seconds(container, stream)
    if declared is not None and declared > max_seconds + DURATION_SLACK_S:
        raise TooLong(_too_long_message(declared, max_seconds))

    limit = int((max_seconds + DURATION_SLACK_S) * sample_rate)
    decoder = opus.decoder_for(stream, sample_rate, capacity=limit) or _FFmpegDecoder(
        stream, sample_rate
    )
    packets = bad = 0
    try:
        for packet in container.demux(stream):
            if packet.size == 0:  # the demuxer's end-of-stream marker
                continue
            packets += 1
            if not decoder.decode(packet):
                bad += 1
            if decoder.samples > limit:
                raise TooLong(_too_long_message(declared, max_seconds))
        samples = decoder.finish()
    finally:
        decoder.close()
    total = len(samples)

    if total == 0:
        raise CorruptMedia(
            "no audio could be decoded from the file; it may be damaged or truncated"
        )
    if bad > _MAX_BAD_PACKET_FRACTION * packets:
        raise CorruptMedia(f"{bad} of {packets} audio packets could not be decoded")
    if total > limit:
        raise TooLong(_too_long_message(declared, max_seconds))
    if declared is not None and total / sample_rate < 0.9 * declared - DURATION_SLACK_S:
        raise CorruptMedia(
            f"the file is truncated: it declares {declared:.1f} s of audio "
            f"but only {total / sample_rate:.1f} s could be decoded"
        )
    return samples


class _FFmpegDecoder:
    """Any codec FFmpeg knows, through :class:`_BatchedResampler` to mono at ``rate``."""

    def __init__(self, stream: av.AudioStream, rate: int) -> None:
        self._codec = stream.codec_context
        self._rate = rate
        self._resampler = _BatchedResampler(rate)

    @property
    def samples(self) -> int:
        """Decoded so far, counted at the output rate."""
        return int(self._resampler.seconds * self._rate)

    def decode(self, packet: av.Packet) -> bool:
        """Decode one packet; False if FFmpeg refused it as damaged."""
        try:
            frames = self._codec.decode(packet)
        except av.error.FFmpegError:
            return False
        for frame in frames:
            self._resampler.add(frame)
        return True

    def finish(self) -> np.ndarray:
        return self._resampler.finish()

    def close(self) -> None:
        pass


class _BatchedResampler:
    """Decoded frames → mono float32 at ``rate``, through the resampler a second at a time.

    A 5-s Opus clip decodes to 250 frames: fed one by one, the per-call cost of
    PyAV's resampler (a filter graph) was more than the resampling itself. Frames
    are gathered in an FFmpeg audio FIFO (a copy in C, no Python array per frame)
    and about a second of them goes through the resampler per call, which keeps
    that cost small and the memory bounded.
    """

    _BATCH_S = 1.0

    def __init__(self, rate: int) -> None:
        self._resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        self._fifo = av.AudioFifo()
        self._out: list[np.ndarray] = []
        self.seconds = 0.0  # decoded so far

    def add(self, frame: av.AudioFrame) -> None:
        frame.pts = None  # the FIFO would check timestamps; only the samples matter here
        try:
            self._fifo.write(frame)
        except ValueError:
            # A frame unlike the ones before it (format, layout or rate changed
            # mid-stream): those go first, and the resampler then refuses the new
            # shape, as it did frame by frame.
            self._flush()
            self._fifo = av.AudioFifo()
            self._fifo.write(frame)
        self.seconds += frame.samples / frame.sample_rate
        if self._fifo.samples >= self._BATCH_S * frame.sample_rate:
            self._flush()

    def finish(self) -> np.ndarray:
        self._flush()
        self._convert(None)
        if not self._out:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(self._out).astype(np.float32, copy=False)

    def _flush(self) -> None:
        if self._fifo.samples:
            self._convert(self._fifo.read())

    def _convert(self, frame: av.AudioFrame | None) -> None:
        for out in self._resampler.resample(frame):
            self._out.append(out.to_ndarray()[0])


def _declared_seconds(
    container: av.container.InputContainer, stream: av.AudioStream
) -> float | None:
    """The duration the container header states, if it states one we can trust."""
    if container.format.name.startswith(_ESTIMATED_DURATION):
        return None
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / av.time_base
    return None


def _check_wav_complete(data: bytes) -> None:
    """FFmpeg silently decodes the part of a cut-off WAV that is there; refuse it instead."""
    offset = 12
    for _ in range(64):  # a WAV has a handful of chunks; stop scanning junk early
        if offset + 8 > len(data):
            raise CorruptMedia("the WAV file is truncated: it ends before its audio data")
        chunk_id = data[offset : offset + 4]
        (size,) = struct.unpack("<I", data[offset + 4 : offset + 8])
        if chunk_id == b"data":
            available = len(data) - offset - 8
            # 0 and 0xFFFFFFFF mean "unknown" (a recorder still writing, or RF64).
            if size not in (0, 0xFFFFFFFF) and available < size:
                raise CorruptMedia(
                    f"the WAV file is truncated: its header announces {size} bytes of audio "
                    f"but only {available} are present"
                )
            return
        offset += 8 + size + (size & 1)


def _too_long_message(declared: float | None, max_seconds: float) -> str:
    if declared is not None and declared > max_seconds:
        return f"recording is {declared:.1f} s long; the maximum is {max_seconds:g} s"
    return f"recording is longer than the maximum of {max_seconds:g} s"


def _mb(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}"


def _reason(exc: Exception) -> str:
    text = str(exc).replace("'<none>'", "").strip(" :")
    return text or type(exc).__name__
