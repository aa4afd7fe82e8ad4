"""What a benchmark ran on, written into every result file.

The same commit measured on two 2-vCPU VMs of this project gave figures a third apart: an AMD EPYC without
AVX-512 and an Intel Xeon with AVX-512 VNNI, where onnxruntime picks wider kernels. The kernel string alone
does not tell them apart, so results carry the processor and the instruction sets the numeric libraries use.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

# what onnxruntime's, OpenCV's and numpy's kernels choose between on x86
FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def describe() -> dict[str, object]:
    """Platform, CPU count, processor model and its wide-vector flags (as far as ``/proc/cpuinfo`` says)."""
    model, flags = platform.processor() or platform.machine(), set[str]()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() in ("flags", "Features"):
                flags = set(value.split())
                break
    return {"machine": platform.platform(), "cpus": os.cpu_count(), "cpu": model,
            "cpu_flags": [f for f in FLAGS if f in flags]}
