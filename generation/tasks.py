from celery import shared_task

from generation.runs import LeaseHeld, recover_stuck_generations, run_generation


# acks_late + reject_on_worker_lost: a worker killed mid-stream gives the message back, and the
# claim in run_generation makes the redelivery safe (one lease holder, bounded attempts). The time
# limits apply under a prefork pool; under the threads pool Kiln runs, GENERATION_MAX_S bounds a run.
@shared_task(
    name="generation.run",
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(LeaseHeld,),
    retry_kwargs={"max_retries": 5, "countdown": 7},
    soft_time_limit=600,
    time_limit=660,
)
def run(generation_id: int) -> None:
    run_generation(generation_id)


@shared_task(name="generation.recover_stuck", soft_time_limit=60, time_limit=90)
def recover_stuck() -> None:
    recover_stuck_generations()
