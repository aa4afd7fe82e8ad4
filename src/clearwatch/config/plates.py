"""The licence-plate section: per camera like ``objects`` (the site's section is every camera's default)."""

from __future__ import annotations

from pydantic import Field, field_validator

from clearwatch.config.base import Name, Section
from clearwatch.config.units import Duration

VEHICLES = ["car", "truck", "bus", "motorcycle"]


class PlateFormatConfig(Section):
    name: Name
    regex: str = Field(description="Full match over the plate's capitals and digits, e.g. '[A-Z]{3}[0-9]{3}'.")


class PlatesConfig(Section):
    enabled: bool = False
    dedicated: bool = Field(default=False, description="A close-up entrance camera: read plates without the "
                            "vehicle detector, wherever something moves.")
    formats: list[str | PlateFormatConfig] = Field(
        default_factory=lambda: list[str | PlateFormatConfig](["AR", "EU", "UK", "US"]),
        description="Presets (AR, EU, UK, US) and {name, regex}; a read that fits none is kept as unverified.")
    min_height: int = Field(default=12, ge=6, le=400, description="Least height of a plate's text in decoded "
                            "pixels: smaller plates are not read (raise detect.width for distant cameras).")
    vehicles: list[str] = Field(default_factory=lambda: list(VEHICLES))
    interval: Duration = Field(default=0.4, ge=0, description="Least time between reads of one vehicle.")
    max_reads: int = Field(default=6, ge=1, le=50, description="Reads of one vehicle before deciding early.")
    repeat_window: Duration = Field(default=60.0, ge=0, description="The same plate again within this is the "
                                    "same pass (a track lost and regained), not a new read.")
    fuzzy: int = Field(default=1, ge=0, le=3, description="Edit distance that still matches a listed plate.")
    line: Name | None = Field(default=None, description="A line of this camera whose crossing gives in/out.")

    @field_validator("formats")
    @classmethod
    def _compiles(cls, v: list[str | PlateFormatConfig]) -> list[str | PlateFormatConfig]:
        from clearwatch.plates.formats import FormatError, compile_formats

        try:
            compile_formats([f if isinstance(f, str) else f.model_dump() for f in v])
        except FormatError as exc:
            raise ValueError(str(exc)) from None
        return v

    def format_specs(self) -> list[str | dict[str, str]]:
        return [f if isinstance(f, str) else f.model_dump() for f in self.formats]
