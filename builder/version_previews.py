"""A live preview of any version of a project, on demand, without changing the current version.

History's "Preview this version" asks for it. A version whose newest build is running (ready, or on its
way) is shown as it is: nothing new is built. Otherwise the version is built again through the turn
pipeline's one entry (`builder.pipeline.request_build`), as a *side preview* (`sandbox.lifecycle`'s
SIDE_PREVIEW_STREAM): it takes a warm-pool slot like any preview, runs beside the project's current
preview without stopping it (the per-user cap never stops the current one for it), sees a copy of the
project's data that is thrown away when it stops, and is never sent to the model for repair. Nothing
about it changes which version is current: that is decided by answers and verdicts
(`builder.services.current_version`), never by builds.
"""

from django.db import transaction

from builder import history, pipeline, selectors
from builder.models import AppVersion
from builder.services import InvalidRequest, current_version
from sandbox.lifecycle import SIDE_PREVIEW_STREAM
from sandbox.models import Build

BUILD_FAILED = (
    "This version's app did not build ({step}), so it has no preview. Open its files or its changes, "
    "or restore an earlier version."
)
# Build steps that fail the same way every time: building again would only fail again.
LASTING_FAILURES = ("bundle", "invalid")
RUNNING = (Build.Status.WAITING, Build.Status.QUEUED, Build.Status.BUILDING, Build.Status.READY)


def side_stream(version: AppVersion) -> str:
    """The stream a side preview's build frames go to (no page follows it: the page polls the state)."""
    return f"{SIDE_PREVIEW_STREAM}{version.project_id}:{version.id}"


def newest_build(version: AppVersion) -> Build | None:
    return version.builds.order_by("-id").first()


@transaction.atomic
def preview_version(version: AppVersion) -> Build:
    """The build that shows this version live: its running one, else a new side preview.

    Refuses (InvalidRequest, BUILD_FAILED) a version whose app failed to bundle: it has nothing to show.
    """
    # One request at a time per version, so two clicks start one build (a row lock; SQLite locks the file).
    AppVersion.objects.select_for_update().filter(id=version.id).first()
    build = newest_build(version)
    if build is not None and build.status in RUNNING:
        return build
    if build is not None and build.status == Build.Status.FAILED and build.failed_step in LASTING_FAILURES:
        raise InvalidRequest(BUILD_FAILED.format(step=build.failed_step))
    return pipeline.request_build(version, stream_key=side_stream(version))


def preview_state(version: AppVersion, user) -> dict:
    """What the History panel shows: which version, whether it is the current one, and its newest
    build (status, steps' message, preview URL once ready)."""
    current = current_version(version.project)
    build = newest_build(version)
    state = selectors.build_state(build, user, message_bytes=selectors.MESSAGE_BYTES)
    return {
        "version": version.id,
        "number": history.version_numbers(version.project)[version.id],
        "current": current is not None and current.id == version.id,
        "current_number": history.version_numbers(version.project).get(current.id) if current else None,
        "build": state,
        # Nothing more will change without a new request (failed, stopped, or its smoke verdict and
        # screenshot are in): the page stops polling.
        "settled": state is None or state["final"],
    }
