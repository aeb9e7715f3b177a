"""Errors of the sandbox room. Each has a message fit to show the user (stored in Build.error)."""

ENGINE_UNAVAILABLE = "Preview engine unavailable"
BUILD_TIMED_OUT = "The build took longer than {seconds} s and was stopped."
PREVIEW_UNHEALTHY = "The preview server did not start: {reason}"
INVALID_APP = "The app is incomplete: {reason}"
BUILD_LOST = "The build worker stopped {claims} times while building this version; the build was abandoned."
KILN_RESTARTED = "Kiln was restarted while this build was running. Rebuild the app to try again."
LINK_IN_OUTPUT = "Build failed: the build produced {name}, which is not a plain file (links are not allowed)."
PREVIEW_CRASHED = "The preview's server crashed {times} times and was stopped. Rebuild the app to start it again."
PREVIEW_EXPIRED = "This preview reached its time-to-live and was stopped. Rebuild the app to start it again."
PREVIEW_OVER_CAP = "Stopped to make room: Kiln keeps at most {cap} running previews per user."
PREVIEW_GONE = "This preview's container was gone (the engine was restarted); rebuild the app to start it again."


class SandboxError(Exception):
    """Base class: str(error) is the user-facing message; `log` carries details for the build log;
    `step` is stored as Build.failed_step."""

    step = "internal"

    def __init__(self, message: str, *, log: str = ""):
        super().__init__(message)
        self.log = log


class EngineUnavailable(SandboxError):
    step = "engine"

    def __init__(self, detail: str = ""):
        super().__init__(ENGINE_UNAVAILABLE, log=detail)


class ImageBuildError(SandboxError):
    """The runtime image could not be built (debootstrap, npm or docker build failed)."""

    step = "image"


class InvalidApp(SandboxError):
    """The AppVersion lacks a file the runtime needs, or app.json is not valid."""

    step = "invalid"


class BuildFailed(SandboxError):
    """esbuild rejected the app; the message names file:line of each error."""

    step = "bundle"


class PreviewFailed(SandboxError):
    """The preview container started but never answered its health check."""

    step = "preview"


class BuildLost(SandboxError):
    """The build's worker died (killed, machine restarted) more often than BUILD_MAX_CLAIMS allows."""

    step = "lost"
