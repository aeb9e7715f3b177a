"""Celery tasks of the sandbox room: interfaces only. The build task itself is the turn pipeline's
(builder.tasks.build): what happens after a build is builder's to decide."""

from celery import shared_task
from celery.signals import worker_process_shutdown

from sandbox import lifecycle, pool, smoke
from sandbox.models import Build

# All go to the "build" queue through CELERY_TASK_ROUTES ("sandbox.*").


@shared_task(name="sandbox.reap_previews", soft_time_limit=60, time_limit=90)
def reap_previews() -> int:
    return lifecycle.reap_expired_previews()


@shared_task(name="sandbox.fill_pool", soft_time_limit=120, time_limit=150)
def fill_pool() -> int:
    return pool.fill()


@shared_task(name="sandbox.revive_preview", soft_time_limit=60, time_limit=90)
def revive_preview(build_id: int) -> str:
    build = Build.objects.filter(id=build_id, status=Build.Status.READY).first()
    return lifecycle.revive_preview(build) if build else "stopped"


@worker_process_shutdown.connect
def _close_smoke_browser(**kwargs) -> None:
    smoke.browser.close()
