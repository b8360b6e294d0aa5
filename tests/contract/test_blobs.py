"""The BlobStore port: Cloud Storage semantics every backend must share."""

from __future__ import annotations

import hashlib
import json
import uuid

import pytest

from tests.contract.support import ODD_NAMES, BackendUnderTest, pull_all, unique
from tributary.errors import NotFound, TributaryError
from tributary.topology import SUB_ON_UPLOAD


def test_put_then_get_and_stat(under_test: BackendUnderTest) -> None:
    blobs = under_test.backend.blobs
    name = f"{unique('data')}/recording.wav"
    data = b"RIFF\x00\x01\x02 not really audio"

    info = blobs.put(name, data, content_type="audio/wav", metadata={"uid": "u1"})

    assert info.bucket == blobs.bucket
    assert info.name == name
    assert info.generation > 0
    assert info.size == len(data)
    assert info.content_type == "audio/wav"
    assert info.sha256 == hashlib.sha256(data).hexdigest()
    assert info.metadata == {"uid": "u1"}
    assert blobs.get(name) == data
    stat = blobs.stat(name)
    assert stat is not None
    assert (stat.name, stat.generation, stat.size, stat.content_type, stat.sha256) == (
        name,
        info.generation,
        len(data),
        "audio/wav",
        info.sha256,
    )
    assert stat.metadata == {"uid": "u1"}


def test_missing_object_is_not_found(under_test: BackendUnderTest) -> None:
    blobs = under_test.backend.blobs
    name = f"{unique('data')}/nothing"

    assert blobs.stat(name) is None
    with pytest.raises(NotFound):
        blobs.get(name)


def test_a_second_put_makes_a_new_larger_generation_and_keeps_the_old(
    under_test: BackendUnderTest,
) -> None:
    blobs = under_test.backend.blobs
    name = f"{unique('data')}/model.bin"

    first = blobs.put(name, b"version one")
    second = blobs.put(name, b"version two, longer")

    assert second.generation > first.generation
    assert blobs.get(name) == b"version two, longer"
    assert blobs.get(name, first.generation) == b"version one"
    assert blobs.get(name, second.generation) == b"version two, longer"
    stat = blobs.stat(name)
    assert stat is not None and stat.generation == second.generation
    with pytest.raises(NotFound):
        blobs.get(name, second.generation + 12345)


def test_list_gives_latest_generations_under_a_prefix_by_name(
    under_test: BackendUnderTest,
) -> None:
    blobs = under_test.backend.blobs
    prefix = f"{unique('data')}/"
    blobs.put(f"{prefix}b", b"b1")
    latest_b = blobs.put(f"{prefix}b", b"b2!")
    latest_a = blobs.put(f"{prefix}a", b"a1")
    latest_c = blobs.put(f"{prefix}sub/c", b"c1")
    blobs.put(f"{prefix[:-1]}-sibling/d", b"outside the prefix")

    listed = list(blobs.list(prefix))

    assert [(i.name, i.generation, i.size) for i in listed] == [
        (f"{prefix}a", latest_a.generation, 2),
        (f"{prefix}b", latest_b.generation, 3),
        (f"{prefix}sub/c", latest_c.generation, 2),
    ]
    assert [i.name for i in blobs.list(f"{prefix}sub/")] == [f"{prefix}sub/c"]


def test_get_refuses_an_object_over_max_bytes(under_test: BackendUnderTest) -> None:
    blobs = under_test.backend.blobs
    name = f"{unique('data')}/big.wav"
    blobs.put(name, b"x" * 1000)

    assert blobs.get(name, max_bytes=1000) == b"x" * 1000
    with pytest.raises(TributaryError) as raised:
        blobs.get(name, max_bytes=999)
    assert raised.value.code == "too_large"


def test_put_under_the_uploads_prefix_publishes_a_finalize_notification(
    under_test: BackendUnderTest,
) -> None:
    backend = under_test.backend
    name = f"{under_test.settings.uploads_prefix}u1/echo/{uuid.uuid4()}.wav"
    elsewhere = f"{unique('models')}/{under_test.settings.uploads_prefix}not-an-upload.wav"

    info = backend.blobs.put(name, b"RIFF....WAVE", content_type="audio/wav")
    backend.blobs.put(elsewhere, b"RIFF....WAVE", content_type="audio/wav")

    notifications = pull_all(backend.bus, SUB_ON_UPLOAD, 2, timeout=1.0)
    assert len(notifications) == 1, f"expected one notification, got {notifications}"
    (notification,) = notifications
    attributes = notification.attributes
    assert attributes["eventType"] == "OBJECT_FINALIZE"
    assert attributes["payloadFormat"] == "JSON_API_V1"
    assert attributes["bucketId"] == backend.blobs.bucket
    assert attributes["objectId"] == name
    assert attributes["objectGeneration"] == str(info.generation)
    body = json.loads(notification.data)
    assert body["bucket"] == backend.blobs.bucket
    assert body["name"] == name
    assert body["generation"] == str(info.generation)
    assert body["size"] == "12"
    assert body["contentType"] == "audio/wav"


@pytest.mark.parametrize("name", ODD_NAMES, ids=range(len(ODD_NAMES)))
def test_odd_object_names_round_trip_by_name(under_test: BackendUnderTest, name: str) -> None:
    blobs = under_test.backend.blobs
    data = f"contents of {name}".encode()

    info = blobs.put(name, data)

    assert info.name == name
    assert blobs.get(name) == data
    stat = blobs.stat(name)
    assert stat is not None and stat.name == name
    assert name in [i.name for i in blobs.list(name)]


@pytest.mark.parametrize(
    "name",
    ["", ".", "..", "line\nbreak", "carriage\rreturn", "x" * 1025, "é" * 513],
    ids=["empty", "dot", "dotdot", "lf", "cr", "1025-bytes", "1026-utf8-bytes"],
)
def test_names_cloud_storage_refuses_are_refused(under_test: BackendUnderTest, name: str) -> None:
    blobs = under_test.backend.blobs

    with pytest.raises(TributaryError) as raised:
        blobs.put(name, b"data")

    assert raised.value.code == "invalid_object_name"
    assert blobs.stat(name) is None
