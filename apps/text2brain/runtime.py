"""ONNX Runtime sessions as every text2brain worker opens them."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort


def session_options() -> ort.SessionOptions:
    """One inference at a time uses every core (two here), without oversubscription.

    Worker threads sleep between runs instead of spinning: on two cores, spinning
    threads take the CPU from the other stages (and the scan) of the same process,
    and on a busy machine they made inference about twice as slow.
    """
    options = ort.SessionOptions()
    options.intra_op_num_threads = max(1, min(2, os.cpu_count() or 1))
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3
    return options


def open_session(path: Path) -> ort.InferenceSession:
    """A CPU session for the model at ``path``."""
    return ort.InferenceSession(
        str(path), sess_options=session_options(), providers=["CPUExecutionProvider"]
    )
