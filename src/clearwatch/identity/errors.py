"""What the registry refuses, importable without loading any model."""

from __future__ import annotations

from clearwatch.errors import ClearwatchError


class EnrolmentError(ClearwatchError):
    """Enrolment refused; ``problems`` says why, photo by photo. Nothing was stored."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("enrolment refused: " + "; ".join(problems))


class NotFound(ClearwatchError):
    """No such person (or template) in the registry."""
