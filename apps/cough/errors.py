"""The ways an uploaded recording can be unusable, each with a stable error code."""

from __future__ import annotations

from tributary.errors import PermanentError


class EmptyInput(PermanentError):
    code = "empty_input"


class TooLarge(PermanentError):
    code = "too_large"


class UnsupportedMedia(PermanentError):
    code = "unsupported_media"


class CorruptMedia(PermanentError):
    code = "corrupt_media"


class NoAudioStream(PermanentError):
    code = "no_audio_stream"


class TooLong(PermanentError):
    code = "too_long"


class TooShort(PermanentError):
    code = "too_short"


class SilentAudio(PermanentError):
    code = "silent_audio"
