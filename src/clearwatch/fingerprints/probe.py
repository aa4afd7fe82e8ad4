"""What an operator hands in as a fingerprint — an image or a template file — as a template to enrol or search."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from clearwatch.fingerprints.extractor import extract
from clearwatch.fingerprints.images import load_fingerprint
from clearwatch.fingerprints.template import Template

TEMPLATE_SUFFIXES = (".iso", ".ist", ".fmr", ".cwfp", ".tpl")
TEMPLATE_MAGIC = (b"FMR\x00", b"CWFP")


@dataclass
class Probe:
    template: Template
    image: np.ndarray | None  # the grey image it came from; None for a template file


def read_probe(data: bytes, name: str, dpi: float | None = None) -> Probe:
    """An ISO/IEC 19794-2 or native template (by name or by its first bytes), else an image to extract from.
    Raises TemplateError or FingerprintImageError (both ClearwatchError) naming what is wrong."""
    if name.lower().endswith(TEMPLATE_SUFFIXES) or data[:4] in TEMPLATE_MAGIC:
        return Probe(Template.from_bytes(data), None)
    image, resolution = load_fingerprint(data, name, dpi)
    return Probe(extract(image, resolution), image)
