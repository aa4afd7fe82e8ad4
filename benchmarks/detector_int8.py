"""Groundwork for issue 17: is an int8 YOLOX-nano worth it? Quantises the shared float model statically (QDQ,
per-channel weights, opset raised to 13, calibrated on letterboxed ``vtest.avi`` frames) into ``.cache/models/``
and compares it with the float model on other ``vtest.avi`` frames: CPU time per whole-frame inference (416) and
per typical crop, and how many of the float model's people (score ≥ 0.45) the int8 model finds again (IoU ≥ 0.5).
Nothing here is used by Clearwatch itself: the product keeps the float model until an int8 one holds its recall.
First result (2-core machine): 16.0 → 13.5 ms a frame, 2.9 → 2.1 ms a crop, but only 82% of the float model's
people found again — plain post-training quantisation is not worth it for this model.

Run: .venv/bin/python benchmarks/detector_int8.py [--out benchmarks/results/detector_int8.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CLEARWATCH_SHARED", ROOT.parent / "shared"))
os.environ.setdefault("CLEARWATCH_MODELS", str(SHARED / "models"))
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
from rich.console import Console  # noqa: E402
from rich.table import Table  # noqa: E402

from clearwatch.analytics.detectors.backends.yolox_nano import PAD_VALUE, YoloxDetector  # noqa: E402

console = Console(width=140)
VTEST = SHARED / "data/video/vtest.avi"
FLOAT = SHARED / "models/yolox_nano.onnx"
INT8 = ROOT / ".cache/models/yolox_nano_int8.onnx"
SIZE = 416


def frames(every: int, offset: int) -> list[np.ndarray]:
    out = []
    with av.open(str(VTEST)) as c:
        for k, f in enumerate(c.decode(video=0)):
            if k % every == offset:
                out.append(cv2.resize(f.to_ndarray(format="bgr24"), (640, 480), interpolation=cv2.INTER_AREA))
    return out


def blob(image: np.ndarray) -> np.ndarray:
    """A calibration input: letterboxed like the detector does, padded to the exported model's square input."""
    h, w = image.shape[:2]
    r = min(1.0, SIZE / max(h, w))
    nh, nw = round(h * r), round(w * r)
    canvas = np.full((SIZE, SIZE, 3), PAD_VALUE, np.uint8)
    canvas[:nh, :nw] = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32)


def quantise(calibration: list[np.ndarray]) -> None:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"images": blob(f)} for f in calibration])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.items, None)

    INT8.parent.mkdir(parents=True, exist_ok=True)
    import onnx
    from onnx import version_converter

    pre = INT8.with_name("yolox_nano_pre.onnx")
    # the shared model's opset predates per-channel DequantizeLinear: raise it first
    onnx.save(version_converter.convert_version(onnx.load(str(FLOAT)), 13), str(pre))
    quant_pre_process(str(pre), str(pre), skip_symbolic_shape=True)  # sympy is not installed; not needed
    quantize_static(str(pre), str(INT8), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    pre.unlink(missing_ok=True)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "detector_int8.json")
    args = ap.parse_args()
    calibration, test = frames(8, 0), frames(8, 4)
    if not INT8.exists():
        quantise(calibration[:64])
    detectors = {"float": YoloxDetector(FLOAT), "int8": YoloxDetector(INT8)}
    person = 0
    found: dict[str, list[list[np.ndarray]]] = {}
    timing: dict[str, dict[str, float]] = {}
    for name, det in detectors.items():
        det.detect(test[0], 0.45)  # warm up
        t0 = time.process_time()
        found[name] = [[b for b, c in zip(d.boxes, d.classes, strict=True) if c == person]
                       for d in (det.detect(f, 0.45) for f in test)]
        whole = (time.process_time() - t0) / len(test)
        crops = [f[100:260, 200:360] for f in test]
        t0 = time.process_time()
        for crop in crops:
            det.detect(crop, 0.45)
        timing[name] = {"whole_frame_ms": round(whole * 1000, 2),
                        "crop_160_ms": round((time.process_time() - t0) / len(crops) * 1000, 2)}
    reference = sum(len(x) for x in found["float"])
    again = sum(1 for ref, got in zip(found["float"], found["int8"], strict=True)
                for b in ref if any(iou(b, g) >= 0.5 for g in got))
    extra = sum(1 for ref, got in zip(found["float"], found["int8"], strict=True)
                for g in got if not any(iou(b, g) >= 0.5 for b in ref))
    result = {"frames": len(test), "calibration_frames": 64, "float_people": reference,
              "int8_recall_of_float": round(again / max(1, reference), 4), "int8_extra_people": extra,
              "timing": timing, "model_bytes": {"float": FLOAT.stat().st_size, "int8": INT8.stat().st_size}}
    t = Table("model", "whole frame ms", "160 px crop ms", title="YOLOX-nano, float vs int8 (CPU time per call)")
    for name in detectors:
        t.add_row(name, str(timing[name]["whole_frame_ms"]), str(timing[name]["crop_160_ms"]))
    console.print(t)
    console.print(f"int8 finds {again} of the float model's {reference} people again "
                  f"(recall {result['int8_recall_of_float']}), plus {extra} it does not")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2))
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
