"""Export the encoder and decoder to ONNX (build time), and check ONNX Runtime agrees with torch.

Uses torch's TorchScript-based exporter (``dynamo=False``), which needs nothing beyond
torch and onnx. Each export is verified by running it in ONNX Runtime — as serving
will — against the torch module on the same inputs; a mismatch fails the build.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from apps.text2brain.networks import EMBEDDING_DIM, MapDecoder, SentenceEncoder
from apps.text2brain.query import QueryTokenizer
from apps.text2brain.runtime import open_session

OPSET = 17
# float32 through two different kernels: agreement far tighter than any use needs.
ENCODER_TOLERANCE = 1e-4
DECODER_TOLERANCE = 1e-3


def export_encoder(sentence_model: Any, path: Path, tokenizer_path: Path) -> None:
    """Write the sentence encoder (ids, mask → unit embedding) and verify it on real text."""
    encoder = SentenceEncoder(sentence_model[0].auto_model).eval()
    example = (torch.tensor([[101, 7592, 2088, 102]]), torch.ones(1, 4, dtype=torch.int64))
    _export(
        encoder,
        example,
        path,
        inputs=["input_ids", "attention_mask"],
        output="embedding",
        dynamic={
            "input_ids": {0: "batch", 1: "tokens"},
            "attention_mask": {0: "batch", 1: "tokens"},
            "embedding": {0: "batch"},
        },
    )
    texts = ["fear", "neural correlates of working memory in healthy adults", "a/b test"]
    expected = sentence_model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)
    session = open_session(path)
    tokenizer = QueryTokenizer(tokenizer_path)
    one_by_one = np.concatenate([session.run(None, tokenizer.encode(t))[0] for t in texts])
    padded = session.run(None, tokenizer.encode_batch(texts))[0]
    for got in (one_by_one, padded):
        _check_close("encoder", got, expected, ENCODER_TOLERANCE)


def export_decoder(decoder: MapDecoder, path: Path) -> None:
    """Write the decoder (embedding → volume) and verify it on random unit embeddings."""
    decoder = decoder.eval()
    example = torch.nn.functional.normalize(torch.randn(3, EMBEDDING_DIM), dim=1)
    _export(
        decoder,
        (example[:1],),
        path,
        inputs=["embedding"],
        output="volume",
        dynamic={"embedding": {0: "batch"}, "volume": {0: "batch"}},
    )
    with torch.no_grad():
        expected = decoder(example).numpy()
    got = open_session(path).run(None, {"embedding": example.numpy()})[0]
    _check_close("decoder", got, expected, DECODER_TOLERANCE * float(np.abs(expected).max()))


def _export(
    module: torch.nn.Module,
    example: tuple[torch.Tensor, ...],
    path: Path,
    *,
    inputs: list[str],
    output: str,
    dynamic: dict[str, dict[int, str]],
) -> None:
    # The tracer warns about Python branches on shapes in transformers' code; the
    # checks after each export are what tells whether the graph is right.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            example,
            str(path),
            dynamo=False,
            input_names=inputs,
            output_names=[output],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
        )


def _check_close(what: str, got: np.ndarray, expected: np.ndarray, tolerance: float) -> None:
    difference = float(np.abs(got - expected).max())
    if got.shape != expected.shape or difference > tolerance:
        raise RuntimeError(
            f"exported {what} disagrees with torch: shape {got.shape} vs {expected.shape}, "
            f"max difference {difference:.2e} (tolerance {tolerance:.0e})"
        )
