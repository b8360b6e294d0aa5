"""The text2brain app: a text query → a predicted brain map and the five closest articles.

preprocess: normalize and validate the query, tokenize it (tokenizer only).
infer:      encoder → sentence embedding → decoder → the map on the brain mask (ONNX Runtime).
lookup:     the exact top-5 articles by Pearson correlation (:mod:`apps.text2brain.index`);
            the map as NIfTI and a preview PNG written to the blob store; the job result
            holds references to them, not the 29,492-voxel vector.

Every payload carries the model version it was made with, so a job whose model was
promoted between two stages finishes with the version it started with.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import numpy as np

from apps.text2brain.index import ReferenceIndex, SearchResult
from apps.text2brain.model import APP_NAME, Text2BrainModel
from apps.text2brain.preview import PNG_CONTENT_TYPE, render_preview
from apps.text2brain.query import normalize_query
from apps.text2brain.volume import NIFTI_CONTENT_TYPE, map_to_nifti
from schemas import BlobInput, BlobRef, ModelRef, TextInput
from tributary import models
from tributary.apps import App, Payload, StageContext
from tributary.config import Settings
from tributary.errors import PermanentError

TOP_ARTICLES = 5
MAP_FILE = "map.nii.gz"
PREVIEW_FILE = "preview.png"
# The current version and the one before it (jobs in flight across a promotion).
_LOADED_VERSIONS = 2

_Loaded = TypeVar("_Loaded")


class Text2BrainApp(App):
    name = APP_NAME
    input_kinds = frozenset({"text"})

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._models: dict[str, Text2BrainModel] = {}
        self._indexes: dict[str, ReferenceIndex] = {}
        self._lock = threading.Lock()

    def model_info(self) -> ModelRef:
        return ModelRef(name=APP_NAME, version=self._current())

    def warm(self, version: str | None = None) -> None:
        version = version or self._current()
        self._model(version).load_networks()
        self._index(version).warm()

    def cache_key(self, job_input: BlobInput | TextInput) -> str | None:
        """Queries that normalize alike share a result (the original's results table)."""
        if not isinstance(job_input, TextInput):
            return None
        try:
            query = normalize_query(job_input.text)
        except PermanentError:
            return None  # let preprocess fail it with its code
        return hashlib.sha256(query.encode("utf-8")).hexdigest()

    def comparable(self, result: dict[str, Any]) -> dict[str, Any]:
        return {"articles": [article.get("pmid") for article in result.get("articles", [])]}

    def preprocess(self, job_input: BlobInput | TextInput, ctx: StageContext) -> Payload:
        if not isinstance(job_input, TextInput):
            raise PermanentError(
                "the text2brain app needs a text query, not an uploaded file", code="invalid_input"
            )
        query = normalize_query(job_input.text)
        model = self._model(ctx.model_version or self._current())
        return {
            "query": query,
            **model.tokenizer.encode(query),
            "model": {"name": model.name, "version": model.version},
        }

    def infer(self, features: Payload, ctx: StageContext) -> Payload:
        model = self._model(_version_of(features) or self._current())
        return {
            "query": features["query"],
            "map": model.predict(features["input_ids"], features["attention_mask"]),
            "model": {"name": model.name, "version": model.version},
        }

    def lookup(self, prediction: Payload, ctx: StageContext) -> dict[str, Any]:
        return self.lookup_many([prediction], [ctx])[0]

    def lookup_many(
        self, predictions: Sequence[Payload], contexts: Sequence[StageContext]
    ) -> list[dict[str, Any]]:
        """:meth:`lookup` for many jobs (a replay), scanning each version's reference once."""
        if len(predictions) != len(contexts):
            raise ValueError("lookup_many needs one stage context per prediction")
        groups: dict[str, list[int]] = {}
        for i, prediction in enumerate(predictions):
            groups.setdefault(_version_of(prediction) or self._current(), []).append(i)
        results: dict[int, dict[str, Any]] = {}
        for version, members in groups.items():
            index, mask = self._index(version), self._model(version).mask
            maps = np.stack([_map_of(predictions[i], index.n_voxels) for i in members])
            try:
                found = index.search_many(maps, TOP_ARTICLES)
            except ValueError as exc:
                raise PermanentError(f"the predicted map cannot be compared: {exc}") from exc
            for i, vector, search in zip(members, maps, found, strict=True):
                ctx = contexts[i]
                if ctx.write_blob is None:
                    raise RuntimeError("the lookup stage was given no blob writer for the map")
                nifti = ctx.write_blob(MAP_FILE, map_to_nifti(vector, mask), NIFTI_CONTENT_TYPE)
                preview = ctx.write_blob(
                    PREVIEW_FILE, render_preview(vector, mask), PNG_CONTENT_TYPE
                )
                results[i] = {
                    "query": predictions[i]["query"],
                    "articles": _articles(index, search),
                    "map": _ref_dict(nifti),
                    "preview": _ref_dict(preview),
                    "model": {"name": APP_NAME, "version": version},
                }
        return [results[i] for i in range(len(predictions))]

    def _current(self) -> str:
        return models.resolve_version(self.settings, APP_NAME)

    def _model(self, version: str) -> Text2BrainModel:
        """Model ``version`` (tokenizer and mask; networks on first use), loaded once."""
        return self._cached(
            self._models, version, lambda: Text2BrainModel.load(self.settings, version)
        )

    def _index(self, version: str) -> ReferenceIndex:
        """The reference index of model ``version``, opened once."""
        return self._cached(
            self._indexes, version, lambda: ReferenceIndex(self._model(version).reference_dir)
        )

    def _cached(
        self, cache: dict[str, _Loaded], version: str, load: Callable[[], _Loaded]
    ) -> _Loaded:
        with self._lock:
            loaded = cache.get(version)
        if loaded is None:
            fresh = load()
            with self._lock:
                loaded = cache.setdefault(version, fresh)
                while len(cache) > _LOADED_VERSIONS:
                    cache.pop(next(iter(cache)))
        return loaded


def _version_of(payload: Payload) -> str | None:
    made_with = payload.get("model") or {}
    version: str | None = made_with.get("version")
    return version


def _map_of(prediction: Payload, n_voxels: int) -> np.ndarray:
    vector = np.asarray(prediction["map"], dtype=np.float32)
    if vector.shape != (n_voxels,):
        raise PermanentError(
            f"predicted map has shape {vector.shape}; the reference has {n_voxels} voxels",
            code="invalid_input",
        )
    return vector


def _articles(index: ReferenceIndex, search: SearchResult) -> list[dict[str, Any]]:
    """The matched articles as clients read them, best first."""
    articles = []
    for match in search.matches:
        record = index.records[match.row]
        articles.append(
            {
                "pmid": record["pmid"],
                "title": record["title"],
                "authors": record["authors"],
                "correlation": match.correlation,
            }
        )
    return articles


def _ref_dict(ref: BlobRef) -> dict[str, Any]:
    return {"bucket": ref.bucket, "name": ref.name, "generation": ref.generation}
