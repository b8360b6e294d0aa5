"""The ONNX graph of the int8 scan (build time; needs the ``onnx`` package).

``dots = (codes − 128) @ queries``: ``codes`` are the reference's unit rows as uint8
with zero point 128, ``queries`` int8 columns; ONNX Runtime's MatMulInteger computes it
exactly in int32. The graph is tiny and ships as ``assets/int8_scan.onnx``;
``python -m apps.text2brain.scan_graph`` rewrites it.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from apps.text2brain.reference import ZERO_POINT
from apps.text2brain.scoring import SCAN_FILE


def build_scan_graph() -> onnx.ModelProto:
    """MatMulInteger(codes uint8 [rows, voxels], queries int8 [voxels, batch]) → int32 [rows, batch]."""
    codes = helper.make_tensor_value_info("codes", TensorProto.UINT8, ["rows", "voxels"])
    queries = helper.make_tensor_value_info("queries", TensorProto.INT8, ["voxels", "batch"])
    dots = helper.make_tensor_value_info("dots", TensorProto.INT32, ["rows", "batch"])
    zero_point = numpy_helper.from_array(np.array(ZERO_POINT, dtype=np.uint8), "zero_point")
    node = helper.make_node("MatMulInteger", ["codes", "queries", "zero_point"], ["dots"])
    graph = helper.make_graph([node], "int8_scan", [codes, queries], [dots], [zero_point])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    model.producer_name = "tributary"
    onnx.checker.check_model(model)
    return model


if __name__ == "__main__":
    onnx.save(build_scan_graph(), str(SCAN_FILE))
    print(f"wrote {SCAN_FILE}")
