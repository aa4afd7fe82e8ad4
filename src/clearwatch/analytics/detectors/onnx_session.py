"""onnxruntime sessions sized for many cameras on a small box: one thread each, no spinning."""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort

from clearwatch.analytics.detectors.models import ModelError


def open_session(path: Path, threads: int = 1, dynamic_input: bool = False) -> ort.InferenceSession:
    """Load ``path``. ``dynamic_input`` frees the input's height and width so crops of any size can be run."""
    try:
        model = onnx.load(str(path))
    except Exception as exc:
        raise ModelError(f"model {path} cannot be read: {exc}") from None
    if dynamic_input:
        dims = model.graph.input[0].type.tensor_type.shape.dim
        for i, name in ((2, "height"), (3, "width")):
            dims[i].dim_param = name
        # the exported graph records fixed intermediate shapes; let onnxruntime infer them again
        del model.graph.value_info[:]
        for out in model.graph.output:
            out.type.tensor_type.ClearField("shape")
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    # idle worker threads must sleep: spinning would bill every camera's CPU for nothing
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    except Exception as exc:
        raise ModelError(f"model {path} cannot be loaded by onnxruntime: {exc}") from None
