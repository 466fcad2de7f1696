"""Project error types: every user-facing failure is one of these, with a one-line message."""
from __future__ import annotations

import os

__all__ = ["MidiDDSPError", "ParameterError", "InputFileError", "CheckpointError"]


class MidiDDSPError(ValueError):
    """Base class of all errors this package raises on purpose."""


class ParameterError(MidiDDSPError):
    """An argument has the wrong shape, type or value; the message says what was expected."""


class InputFileError(MidiDDSPError):
    """A file given by the user cannot be used; the message names the file and the problem."""

    def __init__(self, path: "str | os.PathLike[str]", problem: str):
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CheckpointError(InputFileError):
    """A checkpoint file is missing, corrupt, of an unknown format version or of the wrong kind."""
