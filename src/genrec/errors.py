"""Exceptions that carry enough context to be shown to a user as-is.

Every error raised on bad user input is a `GenrecError`; the CLI prints its message without a traceback.
"""

from __future__ import annotations

from pathlib import Path


class GenrecError(Exception):
    """Base class for errors whose message is meant for the user."""


class DataError(GenrecError):
    """Bad input data: the message names the file and, where known, the line or field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | Path | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.line = line
        self.field = field
        where = []
        if self.path is not None:
            where.append(self.path)
        if line is not None:
            where.append(f"line {line}")
        if field is not None:
            where.append(f"field {field!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class ConfigError(GenrecError):
    """An invalid configuration value or an unknown configuration key."""


class AssetMissingError(GenrecError):
    """A model or dataset asset is not installed; the message names the command that installs it."""
