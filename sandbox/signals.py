"""Signals the sandbox sends, so rooms that may depend on it (builder) can react without the sandbox
importing them."""

from django.dispatch import Signal

# Sent with `build` just before its final frame is published: receivers may add frames (a repair
# starting) that the browser then sees before the final one.
build_finished = Signal()
