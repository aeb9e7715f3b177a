"""Celery tasks of the sandbox room: interfaces only, the work is in sandbox.previews."""

from celery import shared_task

from sandbox import previews


# Both go to the "build" queue through CELERY_TASK_ROUTES ("sandbox.*"): Celery 5.5+ deprecates the
# `queue` task attribute.
#
# Idempotent through the status claim in previews.build_and_preview, so a redelivered message is safe.
@shared_task(
    name="sandbox.build_and_preview",
    soft_time_limit=240,
    time_limit=300,
    acks_late=True,
    reject_on_worker_lost=True,
)
def build_and_preview(build_id: int) -> None:
    previews.build_and_preview(build_id)


@shared_task(name="sandbox.reap_previews", soft_time_limit=60, time_limit=90)
def reap_previews() -> int:
    return previews.reap_expired_previews()
