from celery import shared_task

from generation.runs import run_generation


@shared_task(name="generation.run", queue="generation", soft_time_limit=600, time_limit=660)
def run(generation_id: int) -> None:
    run_generation(generation_id)
