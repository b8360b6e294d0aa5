"""The shipped int8 scan graph is the one the code describes."""

from __future__ import annotations

import onnx

from apps.text2brain.scan_graph import build_scan_graph
from apps.text2brain.scoring import SCAN_FILE


def test_the_shipped_scan_graph_is_current() -> None:
    assert onnx.load(str(SCAN_FILE)) == build_scan_graph(), (
        "run `python -m apps.text2brain.scan_graph` to rewrite the asset"
    )
