"""Query text: normalized as the original service did, validated, and tokenized.

Normalization is lower-case, strip, and remove every "/"; a query is at most 140
characters once normalized. An over-long query is refused (with the limit in the
message) rather than silently truncated: the user would not see what was cut.
Tokenization uses the encoder's own ``tokenizer.json`` (the ``tokenizers`` library,
no transformers), copied into the model version at build time.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tributary.errors import PermanentError

MAX_QUERY_CHARS = 140
# Far above what 140 characters can produce; the encoder was trained with 256.
MAX_TOKENS = 256


class EmptyQuery(PermanentError):
    code = "empty_query"


class QueryTooLong(PermanentError):
    code = "query_too_long"


def normalize_query(text: str) -> str:
    """The query as the model sees it. Raises EmptyQuery or QueryTooLong."""
    normalized = text.lower().strip().replace("/", "")
    if not normalized.strip():
        raise EmptyQuery("the query is empty; type a few words about brain function or anatomy")
    if len(normalized) > MAX_QUERY_CHARS:
        raise QueryTooLong(
            f"the query is {len(normalized)} characters long; the maximum is {MAX_QUERY_CHARS}"
        )
    return normalized


class QueryTokenizer:
    """The encoder's WordPiece tokenizer, truncating at MAX_TOKENS."""

    def __init__(self, path: Path) -> None:
        self._tokenizer = Tokenizer.from_file(str(path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(MAX_TOKENS)
        # A batch is padded to its longest text; the attention mask hides the padding.
        self._batch_tokenizer = Tokenizer.from_file(str(path))
        self._batch_tokenizer.enable_padding()
        self._batch_tokenizer.enable_truncation(MAX_TOKENS)

    def encode(self, text: str) -> dict[str, np.ndarray]:
        """``input_ids`` and ``attention_mask`` for one text, shape (1, tokens), int64."""
        encoding = self._tokenizer.encode(text)
        return {
            "input_ids": np.asarray([encoding.ids], dtype=np.int64),
            "attention_mask": np.asarray([encoding.attention_mask], dtype=np.int64),
        }

    def encode_batch(self, texts: list[str]) -> dict[str, np.ndarray]:
        """``input_ids`` and ``attention_mask`` for several texts, padded: (len(texts), tokens)."""
        encodings = self._batch_tokenizer.encode_batch(texts)
        return {
            "input_ids": np.asarray([e.ids for e in encodings], dtype=np.int64),
            "attention_mask": np.asarray([e.attention_mask for e in encodings], dtype=np.int64),
        }
