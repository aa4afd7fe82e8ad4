"""Errors that carry a message meant for the person running Clearwatch."""


class ClearwatchError(Exception):
    """An expected failure with a clear, user-facing message (no traceback shown)."""


class ConfigError(ClearwatchError):
    """The configuration is invalid; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: {len(problems)} problem(s):\n" + "\n".join(f"  {p}" for p in problems))


class NoFootageError(ClearwatchError):
    """A requested time range has no recorded footage."""
