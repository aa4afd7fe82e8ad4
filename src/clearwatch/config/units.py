"""Durations and sizes as config field types: a number, or a string with a unit ("90s", "7d", "500GB")."""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator

from clearwatch.units import parse_duration, parse_size

Duration = Annotated[float, BeforeValidator(parse_duration)]
ByteSize = Annotated[int, BeforeValidator(parse_size)]
