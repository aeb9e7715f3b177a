"""Celery tasks of the sandbox room: interfaces only, the work is in sandbox.previews."""

from celery import shared_task
from celery.signals import worker_process_shutdown

from sandbox import pool, previews, smoke
from sandbox.models import Build


# All go to the "build" queue through CELERY_TASK_ROUTES ("sandbox.*"): Celery 5.5+ deprecates the
# `queue` task attribute.
#
# Idempotent through the status claim in previews.build_and_preview, so a redelivered message is safe:
# acks_late + reject_on_worker_lost put the message back when the worker process dies mid-build, and
# the claim lets the next worker take over a build whose worker is dead.
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


@shared_task(name="sandbox.watchdog", soft_time_limit=120, time_limit=150)
def watchdog() -> dict:
    return previews.watchdog()


@shared_task(name="sandbox.fill_pool", soft_time_limit=120, time_limit=150)
def fill_pool() -> int:
    return pool.fill()


@shared_task(name="sandbox.revive_preview", soft_time_limit=60, time_limit=90)
def revive_preview(build_id: int) -> str:
    build = Build.objects.filter(id=build_id, status=Build.Status.READY).first()
    return previews.revive_preview(build) if build else "stopped"


@worker_process_shutdown.connect
def _close_smoke_browser(**kwargs) -> None:
    smoke.browser.close()
