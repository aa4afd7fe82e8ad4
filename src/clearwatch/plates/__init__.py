"""Licence plates: reading them (PP-OCR on onnxruntime, several reads voted), fitting the site's formats, one
decision per vehicle track, lists with actions, and search. Parts load on first use."""

from typing import TYPE_CHECKING

from clearwatch.lazy import lazy_exports

if TYPE_CHECKING:
    from clearwatch.plates.formats import FormatError, PlateFormat, classify, compile_formats, normalise
    from clearwatch.plates.reader import PlateRead, PlateReader
    from clearwatch.plates.vote import Reading, vote

__getattr__, __dir__ = lazy_exports(__name__, {
    "FormatError": ".formats",
    "PlateFormat": ".formats",
    "PlateRead": ".reader",
    "PlateReader": ".reader",
    "Reading": ".vote",
    "classify": ".formats",
    "compile_formats": ".formats",
    "normalise": ".formats",
    "vote": ".vote",
})

__all__ = ["FormatError", "PlateFormat", "PlateRead", "PlateReader", "Reading", "classify", "compile_formats",
           "normalise", "vote"]
