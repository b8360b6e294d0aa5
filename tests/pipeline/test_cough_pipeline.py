"""The cough app end to end on the embedded backend: upload → trigger → three stages → job.

Every format phones and browsers produce gets a result; every bad input gets its
own error code and breaks nothing (a good job submitted after them succeeds).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from apps.cough.synth import synth_clip
from tests import audiofiles
from tests.conftest_emulators import emulator_settings
from tests.helpers import wait_terminal
from tributary import client
from tributary.backend import Backend, open_backend
from tributary.config import Settings
from tributary.runner import Runner

FORMATS = sorted(audiofiles.FORMATS)
EXTENSIONS = {
    "wav": "wav",
    "flac": "flac",
    "ogg_vorbis": "ogg",
    "ogg_opus": "opus",
    "webm_opus": "webm",
    "webm_opus_stereo": "webm",
    "ogg_opus_voice": "opus",
    "m4a_aac": "m4a",
    "m4a_aac_no_faststart": "m4a",
    "mp3": "mp3",
}


@pytest.fixture(scope="module", params=["local", "emulators"])
def pipeline(
    request: pytest.FixtureRequest,
    cough_settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Backend]:
    """The same suite on the embedded backend and on the Google Cloud emulators."""
    data_dir = tmp_path_factory.mktemp("pipeline")
    models_dir = cough_settings.model_root
    if request.param == "local":
        backend = open_backend(cough_settings.with_overrides(data_dir=data_dir))
    else:
        stack = request.getfixturevalue("emulator_stack")
        backend = open_backend(emulator_settings(stack, data_dir, models_dir=models_dir))
    with Runner(backend, threads_per_subscription=2):
        yield backend
    backend.close()


def _submit(backend: Backend, data: bytes, filename: str) -> dict:
    job_id = client.submit_file(backend, data, app="cough", filename=filename)
    return wait_terminal(backend, job_id, timeout=60)


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_upload_format_is_classified(pipeline: Backend, fmt: str) -> None:
    clip = synth_clip("dry", seed=7, seconds=3.0)
    doc = _submit(
        pipeline, audiofiles.encode(clip, audiofiles.SAMPLE_RATE, fmt), f"cough.{EXTENSIONS[fmt]}"
    )
    assert doc["state"] == "succeeded", doc.get("error")
    result = doc["result"]
    assert result["label"] in ("dry", "wet", "normal")
    assert set(result["probabilities"]) == {"dry", "wet"}
    assert result["threshold"] == pytest.approx(0.8)
    assert result["type"] in ("Dry Cough", "Wet Cough", "Normal Cough")
    assert result["percentage"] == pytest.approx(result["confidence"] * 100, abs=0.01)
    # The spectrogram picture of the recording, written beside the job's results.
    picture = result["spectrogram"]
    assert picture["name"] == f"results/{doc['job_id']}/1/spectrogram.png"
    assert pipeline.blobs.get(picture["name"], picture["generation"])[:4] == b"\x89PNG"
    assert doc["model"]["name"] == "cough" and doc["model"]["version"]
    assert [doc["stages"][s]["attempts"] for s in ("preprocess", "inference", "lookup")] == [
        1,
        1,
        1,
    ]


def test_the_model_tells_dry_from_wet_through_the_pipeline(pipeline: Backend) -> None:
    for kind in ("dry", "wet"):
        for seed in (101, 202):
            clip = synth_clip(kind, seed=seed, seconds=3.0)
            doc = _submit(
                pipeline, audiofiles.encode(clip, audiofiles.SAMPLE_RATE, "webm_opus"), "c.webm"
            )
            probabilities = doc["result"]["probabilities"]
            assert max(probabilities, key=probabilities.get) == kind


BAD_INPUTS = {
    "empty": ("empty.wav", "empty_input"),
    "random_bytes": ("noise.wav", "unsupported_media"),
    "truncated_wav": ("cut.wav", "corrupt_media"),
    "video_without_audio": ("clip.mp4", "no_audio_stream"),
    "ten_minute_wav": ("long.wav", "too_long"),
    "short_clip": ("short.wav", "too_short"),
    "silence": ("quiet.wav", "silent_audio"),
    "fifty_megabytes": ("huge.wav", "too_large"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_inputs_fail_with_their_own_code(pipeline: Backend, name: str) -> None:
    filename, code = BAD_INPUTS[name]
    doc = _submit(pipeline, audiofiles.BAD_INPUTS[name](), filename)
    assert doc["state"] == "failed"
    assert doc["error"]["code"] == code
    assert doc["error"]["retryable"] is False
    assert "Traceback" not in doc["error"]["message"] and doc["error"]["message"]
    assert doc["stages"]["preprocess"]["attempts"] == 1  # permanent: never retried


def test_a_hostile_file_name_never_becomes_a_path(pipeline: Backend) -> None:
    clip = synth_clip("wet", seed=3, seconds=2.0)
    data = audiofiles.encode(clip, audiofiles.SAMPLE_RATE, "wav")
    doc = _submit(pipeline, data, "../../../etc/tøst ñame.wav")
    assert doc["state"] == "succeeded"
    assert doc["input"]["name"].endswith(f"/cough/{doc['job_id']}.wav")
    blob_root = pipeline.settings.data_dir / "blobs"  # the embedded backend's files
    assert all(p.name.endswith(".bin") for p in blob_root.rglob("*") if p.is_file())
    assert pipeline.blobs.get(doc["input"]["name"], doc["input"]["generation"]) == data


def test_a_good_job_after_all_the_bad_ones_still_succeeds(pipeline: Backend) -> None:
    for name in ("random_bytes", "truncated_wav", "silence"):
        _submit(pipeline, audiofiles.BAD_INPUTS[name](), "bad.wav")
    clip = synth_clip("dry", seed=11, seconds=2.0)
    doc = _submit(pipeline, audiofiles.encode(clip, audiofiles.SAMPLE_RATE, "webm_opus"), "ok.webm")
    assert doc["state"] == "succeeded"
