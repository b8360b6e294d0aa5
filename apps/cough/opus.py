"""Opus packets → mono float32 at the model's rate, decoded by libopus itself.

FFmpeg's Opus decoders always produce 48 kHz, which the resampler then brings down
to the model's rate. libopus decodes straight to 8, 12, 16, 24 or 48 kHz, so at the
model's 16 kHz there is nothing to resample: decoding a browser's WebM/Opus recording
(the most common upload) takes about a fifth less time. The library is the one PyAV ships (or the system's ``libopus``); without
either, :func:`decoder_for` returns None and FFmpeg decodes as for any other codec.

The container's own trimming is honoured: the encoder's delay at the start and the
padding of the last packet, which the demuxer hands over as ``skip_samples`` side
data (from the Ogg granule positions or WebM's CodecDelay and DiscardPadding).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import glob
import math
import os
import struct
from collections.abc import Iterable

import av
import numpy as np

# The rates libopus decodes to; any other goes through FFmpeg and the resampler.
NATIVE_RATES = frozenset({8000, 12000, 16000, 24000, 48000})
# Opus counts its delay and padding in 48-kHz samples, whatever the output rate.
_OPUS_CLOCK = 48000
# The longest Opus packet: 120 ms.
_MAX_PACKET_S = 0.12
_OPUS_HEAD = b"OpusHead"
_STEREO_OR_MONO = 0  # channel mapping family 0: one stream, one or two channels


class OpusPackets:
    """One stream's packets decoded into a preallocated buffer (one instance per file)."""

    def __init__(
        self, library: ctypes.CDLL, sample_rate: int, capacity: int, scale: float = 1.0
    ) -> None:
        self._library = library
        self._rate = sample_rate
        self._scale = scale
        self._max_frame = int(_MAX_PACKET_S * sample_rate)
        # Room for the capacity plus the packet that passes it; pages never written
        # are never touched, so a generous capacity costs address space, not memory.
        self._buffer = np.empty(capacity + self._max_frame, dtype=np.float32)
        self._address = self._buffer.ctypes.data
        self._capacity = capacity
        self._written = 0
        self._started = False
        self._skip = 0  # samples still to drop from the start
        self._last: av.Packet | None = None
        self._last_count = 0
        error = ctypes.c_int(0)
        # One output channel: libopus mixes a stereo stream down itself.
        self._state = library.opus_decoder_create(sample_rate, 1, ctypes.byref(error))
        if not self._state or error.value != 0:
            raise RuntimeError(f"libopus could not create a decoder (error {error.value})")

    @property
    def samples(self) -> int:
        return self._written

    def decode(self, packet: av.Packet) -> bool:
        """Decode one packet; False if libopus refused it as damaged."""
        if self._written > self._capacity:
            raise OverflowError("the decoded audio exceeds the buffer's capacity")
        if not self._started:
            # The encoder's delay is announced on the first packet (and may be
            # longer than it).
            self._started = True
            self._skip = self._at_rate(_trimming(packet)[0])
        count = self._library.opus_decode_float(
            self._state,
            packet.buffer_ptr,
            packet.size,
            self._address + self._written * 4,
            self._max_frame,
            0,
        )
        if count < 0:
            return False
        if self._skip:
            dropped = min(self._skip, count)
            frame = self._buffer[self._written : self._written + count]
            frame[: count - dropped] = frame[dropped:].copy()
            self._skip -= dropped
            count -= dropped
        self._written += count
        self._last, self._last_count = packet, count
        return True

    def finish(self) -> np.ndarray:
        if self._last is not None:
            # The padding of the last packet: looked up once at the end, not on every
            # packet (reading side data costs ~2 µs a packet).
            self._written -= min(self._last_count, self._at_rate(_trimming(self._last)[1]))
        samples = self._buffer[: self._written].copy()
        if self._scale != 1.0:
            samples *= np.float32(self._scale)
        return samples

    def close(self) -> None:
        if self._state:
            self._library.opus_decoder_destroy(self._state)
            self._state = None

    def _at_rate(self, opus_samples: int) -> int:
        return round(opus_samples * self._rate / _OPUS_CLOCK)


def decoder_for(stream: av.AudioStream, sample_rate: int, capacity: int) -> OpusPackets | None:
    """A libopus decoder for ``stream`` at ``sample_rate``, or None to use FFmpeg.

    None when the stream is not Opus, the rate is not one libopus decodes to, the
    stream has more than two channels (a multistream layout), or no libopus loads.
    """
    if stream.codec_context.name != "opus" or sample_rate not in NATIVE_RATES:
        return None
    header = header_of(stream)
    if header is None:
        return None
    library = load_library()
    if library is None:
        return None
    channels, gain_db = header
    # The header's output gain, which FFmpeg applies too; and FFmpeg's level for
    # stereo made mono, 0.707 (L + R), where libopus gives their mean.
    scale = 10 ** (gain_db / 20) * (math.sqrt(2) if channels == 2 else 1.0)
    return OpusPackets(library, sample_rate, capacity, scale=scale)


def header_of(stream: av.AudioStream) -> tuple[int, float] | None:
    """(channels, output gain in dB) from the OpusHead, if one stream of ≤ 2 channels."""
    head = stream.codec_context.extradata or b""
    if len(head) < 19 or not head.startswith(_OPUS_HEAD):
        return None
    channels, gain_q8, family = head[9], struct.unpack_from("<h", head, 16)[0], head[18]
    if family != _STEREO_OR_MONO or channels not in (1, 2):
        return None
    return channels, gain_q8 / 256


@functools.cache
def load_library() -> ctypes.CDLL | None:
    """The libopus PyAV ships with, else the system's; None when neither loads."""
    for path in _candidates():
        try:
            library = ctypes.CDLL(path)
        except OSError:
            continue
        _declare(library)
        return library
    return None


def _candidates() -> Iterable[str]:
    # Wheels keep their bundled libraries in "<package>.libs" beside the package.
    bundled = os.path.join(os.path.dirname(os.path.dirname(av.__file__)), "av.libs")
    yield from sorted(glob.glob(os.path.join(bundled, "libopus*.so*")))
    system = ctypes.util.find_library("opus")
    if system:
        yield system


def _declare(library: ctypes.CDLL) -> None:
    library.opus_decoder_create.restype = ctypes.c_void_p
    library.opus_decoder_create.argtypes = [
        ctypes.c_int32,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
    ]
    library.opus_decode_float.restype = ctypes.c_int
    library.opus_decode_float.argtypes = [
        ctypes.c_void_p,
        ctypes.c_void_p,
        ctypes.c_int32,
        ctypes.c_void_p,
        ctypes.c_int,
        ctypes.c_int,
    ]
    library.opus_decoder_destroy.restype = None
    library.opus_decoder_destroy.argtypes = [ctypes.c_void_p]


def _trimming(packet: av.Packet) -> tuple[int, int]:
    """(samples to drop at the start, at the end) of this packet, in 48-kHz samples."""
    if not packet.has_sidedata("skip_samples"):
        return 0, 0
    data = bytes(packet.get_sidedata("skip_samples"))
    if len(data) < 8:
        return 0, 0
    start, end = struct.unpack_from("<II", data)
    return start, end
