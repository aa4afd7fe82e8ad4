"""Clearwatch: self-hosted, accountable video surveillance."""

__version__ = "0.1.0"
