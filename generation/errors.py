"""Errors of the generation room. Each carries a message meant for the person using Kiln."""


class GenerationError(Exception):
    """Base class: something went wrong while producing an app from a model."""


class ProtocolError(GenerationError):
    """The model's output broke the file protocol (a bad path, a malformed tag, a cut-off file)."""
