"""Errors of the sandbox room. Each has a message fit to show the user (stored in Build.error)."""

ENGINE_UNAVAILABLE = "Preview engine unavailable"
BUILD_TIMED_OUT = "The build took longer than {seconds} s and was stopped."
PREVIEW_UNHEALTHY = "The preview server did not start: {reason}"
INVALID_APP = "The app is incomplete: {reason}"


class SandboxError(Exception):
    """Base class: str(error) is the user-facing message; `log` carries details for the build log."""

    def __init__(self, message: str, *, log: str = ""):
        super().__init__(message)
        self.log = log


class EngineUnavailable(SandboxError):
    def __init__(self, detail: str = ""):
        super().__init__(ENGINE_UNAVAILABLE, log=detail)


class ImageBuildError(SandboxError):
    """The runtime image could not be built (debootstrap, npm or docker build failed)."""


class InvalidApp(SandboxError):
    """The AppVersion lacks a file the runtime needs, or app.json is not valid."""


class BuildFailed(SandboxError):
    """esbuild rejected the app; the message names file:line of each error."""


class PreviewFailed(SandboxError):
    """The preview container started but never answered its health check."""
