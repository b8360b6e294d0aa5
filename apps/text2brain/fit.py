"""Fit the map decoder (torch, build time): training pairs, embeddings, the training loop.

Pairs are (query text about an article's regions → that article's map), phrased with
:data:`~apps.text2brain.phrasings.TRAINING_TEMPLATES` and the regions' terms, plus the
article's title. Texts are embedded once with the sentence encoder; the decoder is then
trained on (embedding, map) pairs with a Pearson-correlation loss on the brain voxels
(what lookup compares), in bfloat16 autocast on the CPU. A last affine calibration
puts the output on the scale of the training maps. Deterministic for a given seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from apps.text2brain.corpus import Article
from apps.text2brain.networks import MapDecoder
from apps.text2brain.phrasings import TRAINING_TEMPLATES, describe
from apps.text2brain.query import normalize_query
from apps.text2brain.regions import region


@dataclass(frozen=True)
class DecoderFit:
    """Hyper-parameters of the decoder's training."""

    steps: int
    batch_size: int
    learning_rate: float
    channels: tuple[int, ...]


def training_pairs(
    articles: Sequence[Article], rng: np.random.Generator, per_article: int
) -> tuple[list[str], np.ndarray]:
    """Normalized query texts and, for each, the index of the article whose map it should give."""
    texts: list[str] = []
    owners: list[int] = []
    for index, article in enumerate(articles):
        regions = [region(key) for key in article.regions]
        phrasings = [describe(regions, rng, TRAINING_TEMPLATES) for _ in range(per_article)]
        for text in [*phrasings, article.title]:
            texts.append(normalize_query(text[:140]))
            owners.append(index)
    return texts, np.asarray(owners)


def embed_texts(sentence_model: Any, texts: Sequence[str]) -> np.ndarray:
    """Unit-norm embeddings of ``texts`` (each distinct text encoded once), float32."""
    unique = sorted(set(texts))
    vectors = sentence_model.encode(
        unique, batch_size=64, convert_to_numpy=True, normalize_embeddings=True
    )
    position = {text: i for i, text in enumerate(unique)}
    return np.asarray(vectors[[position[text] for text in texts]], dtype=np.float32)


def fit_decoder(
    embeddings: np.ndarray,
    targets: np.ndarray,
    owners: np.ndarray,
    brain: np.ndarray,
    *,
    seed: int,
    config: DecoderFit,
    progress: Callable[[str], None],
) -> MapDecoder:
    """Train a decoder so that embedding ``i`` gives the map ``targets[owners[i]]``.

    ``brain`` holds the flat indices of the brain voxels in the output volume.
    """
    torch.manual_seed(seed)
    # Channels-last lets oneDNN run the 3-D convolutions several times faster on the CPU.
    decoder = MapDecoder(config.channels).to(memory_format=torch.channels_last_3d)  # type: ignore[call-overload]
    optimizer = torch.optim.Adam(decoder.parameters(), lr=config.learning_rate)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.learning_rate, total_steps=config.steps, pct_start=0.15
    )
    inputs = torch.from_numpy(embeddings)
    maps = torch.from_numpy(targets)
    voxels = torch.from_numpy(brain)
    draws = torch.Generator().manual_seed(seed)
    decoder.train()
    for step in range(1, config.steps + 1):
        batch = torch.randint(len(inputs), (config.batch_size,), generator=draws)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            volumes = decoder(inputs[batch])
        predicted = volumes.float().reshape(len(batch), -1)[:, voxels]
        loss = 1.0 - pearson(predicted, maps[owners[batch.numpy()]]).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % 50 == 0 or step == config.steps:
            progress(f"decoder step {step}/{config.steps}: 1 - r = {loss.item():.3f}")
    decoder.eval()
    calibrate(decoder, inputs, maps, owners, voxels)
    return decoder.to(memory_format=torch.contiguous_format)  # type: ignore[no-any-return,call-overload]


def pearson(predicted: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Row-wise Pearson correlation of two (batch, voxels) tensors."""
    predicted = predicted - predicted.mean(dim=1, keepdim=True)
    target = target - target.mean(dim=1, keepdim=True)
    products = (predicted * target).sum(dim=1)
    return products / (predicted.norm(dim=1) * target.norm(dim=1) + 1e-8)


@torch.no_grad()
def calibrate(
    decoder: MapDecoder,
    inputs: torch.Tensor,
    maps: torch.Tensor,
    owners: np.ndarray,
    voxels: torch.Tensor,
    sample: int = 256,
) -> None:
    """Fold the least-squares ``a * output + b ≈ target`` into the head, so maps keep their scale.

    A correlation loss leaves the output's scale and offset free; this fixes them
    without changing any correlation.
    """
    rows = torch.arange(0, len(inputs), max(1, len(inputs) // sample))
    predicted = decoder(inputs[rows]).reshape(len(rows), -1)[:, voxels].double().reshape(-1)
    target = maps[owners[rows.numpy()]].double().reshape(-1)
    design = torch.stack([predicted, torch.ones_like(predicted)], dim=1)
    solution = torch.linalg.lstsq(design, target[:, None]).solution[:, 0]
    a, b = float(solution[0]), float(solution[1])
    assert decoder.head.bias is not None
    decoder.head.weight.mul_(a)
    decoder.head.bias.mul_(a).add_(b)
