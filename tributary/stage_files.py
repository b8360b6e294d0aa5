"""The objects a stage reads (the job's input) and writes (result files)."""

from __future__ import annotations

import functools
from collections.abc import Callable

from schemas import BlobRef
from tributary.errors import NotFound, PermanentError
from tributary.ports import BlobStore


def read_input(blobs: BlobStore, ref: BlobRef, max_bytes: int) -> bytes:
    """A job's input object, refusing more than ``max_bytes`` and other buckets' objects."""
    if ref.bucket != blobs.bucket:
        raise PermanentError(f"bucket {ref.bucket!r} is not served here", code="invalid_input")
    try:
        return blobs.get(ref.name, ref.generation, max_bytes=max_bytes)
    except NotFound as exc:
        raise PermanentError(
            f"the uploaded object gs://{ref.bucket}/{ref.name} no longer exists",
            code="input_missing",
        ) from exc


def input_reader(blobs: BlobStore) -> Callable[[BlobRef, int], bytes]:
    return functools.partial(read_input, blobs)


def result_writer(blobs: BlobStore, job_id: str, run: int) -> Callable[[str, bytes, str], BlobRef]:
    """Writes a run's result files to ``results/{job_id}/{run}/{name}``."""

    def write(name: str, data: bytes, content_type: str) -> BlobRef:
        if "/" in name or name.startswith("."):
            raise ValueError(f"result file names are plain names, not paths: {name!r}")
        info = blobs.put(f"results/{job_id}/{run}/{name}", data, content_type=content_type)
        return BlobRef(bucket=info.bucket, name=info.name, generation=info.generation)

    return write
