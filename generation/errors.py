"""Errors of the generation room. Each carries a message meant for the person using Kiln."""


class GenerationError(Exception):
    """Base class: something went wrong while producing an app from a model."""


class ProtocolError(GenerationError):
    """The model's output broke the file protocol (a bad path, a malformed tag, a cut-off file)."""


class EditNotApplied(ProtocolError):
    """A SEARCH/REPLACE edit could not be applied to the file it names.

    `kind` is the protocol issue kind ("edit_no_match", "edit_syntax"); the message names the file
    and quotes the first lines of the SEARCH text that failed.
    """

    def __init__(self, message: str, kind: str = "edit_no_match"):
        super().__init__(message)
        self.kind = kind
