"""Fingerprints: image input (TIFF, PNG, BMP, JPEG, WSQ), minutiae extraction, matching, and templates
(native and ISO/IEC 19794-2:2005)."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.fingerprints.extractor import extract
    from clearwatch.fingerprints.images import FingerprintImageError, load_fingerprint
    from clearwatch.fingerprints.matcher import Gallery, Prepared, compare, prepare, score
    from clearwatch.fingerprints.template import Template, TemplateError

__getattr__, __dir__ = lazy_exports(__name__, {
    "compare": ".matcher",
    "extract": ".extractor",
    "FingerprintImageError": ".images",
    "Gallery": ".matcher",
    "load_fingerprint": ".images",
    "prepare": ".matcher",
    "Prepared": ".matcher",
    "score": ".matcher",
    "Template": ".template",
    "TemplateError": ".template",
})

__all__ = [
    "FingerprintImageError",
    "Gallery",
    "Prepared",
    "Template",
    "TemplateError",
    "compare",
    "extract",
    "load_fingerprint",
    "prepare",
    "score",
]
