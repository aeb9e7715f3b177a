"""Celery tasks of the turn pipeline: interfaces only, the sequence is builder.pipeline."""

from celery import shared_task

from builder import pipeline
from config.leases import LeaseHeld


# Queue "generation" (CELERY_TASK_ROUTES). acks_late + reject_on_worker_lost: a worker killed
# mid-stream gives the message back, and the claim in generation.runs makes the redelivery safe (one
# lease holder, bounded attempts). Under the threads pool Kiln runs, GENERATION_MAX_S bounds a run.
@shared_task(bind=True, name=pipeline.GENERATE, acks_late=True, reject_on_worker_lost=True, max_retries=5,
             soft_time_limit=600, time_limit=660)
def generate(self, generation_id: int) -> None:
    try:
        pipeline.generate(generation_id)
    except LeaseHeld as exc:  # a dead worker's lease: try again once it has run out
        raise self.retry(countdown=exc.retry_in_s) from exc


# Queue "build". Idempotent through the build's status claim and lease (sandbox.builds), so a
# redelivered message is safe: the next worker takes over a build whose worker died.
@shared_task(bind=True, name=pipeline.BUILD, acks_late=True, reject_on_worker_lost=True, max_retries=5,
             soft_time_limit=240, time_limit=300)
def build(self, build_id: int) -> None:
    try:
        pipeline.build(build_id)
    except LeaseHeld as exc:
        raise self.retry(countdown=exc.retry_in_s) from exc


@shared_task(name="builder.recover", soft_time_limit=120, time_limit=150)
def recover() -> dict:
    return pipeline.recover()
