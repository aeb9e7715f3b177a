"""Fair use: how much of the machine one user's work may hold at once.

Celery serves its queues first in, first out, so 200 prompts sent in a burst by one user would sit
ahead of everyone else's. Kiln therefore hands a user's work to the workers only a little at a time:
at most FAIR_RUNNING_GENERATIONS generations queued or running, and FAIR_RUNNING_BUILDS builds queued
or building, per user. The rest is stored as `waiting` (in the database, so nothing is lost on a
restart) and handed on, oldest first, as the user's earlier work ends (builder.pipeline.dispatch). A
second user's prompt therefore waits behind at most a few of the first user's, never the backlog.
Beyond FAIR_WAITING_PROMPTS waiting generations a prompt is refused with a message saying why.

Promotion from waiting happens under a per-user Redis lock, so two workers finishing at once never
hand on more than the limit.
"""

from contextlib import contextmanager

from django.conf import settings

from config.leases import redis_client
from generation.models import Generation
from sandbox.models import Build

TOO_MANY_WAITING = (
    "You already have {waiting} prompts waiting for a free slot (the limit is {limit}). Wait for one to "
    "finish, or stop one, then send this again."
)
WAITING = "Waiting for a free slot: {ahead} of your earlier requests go first (fair use: {running} at a time)."
LOCK_TIMEOUT_S = 10

_GENERATIONS_IN_FLIGHT = (Generation.Status.QUEUED, Generation.Status.RUNNING)


class FairUseLimit(ValueError):
    """str(exc) is the message shown to the user."""


def limits() -> dict:
    """The per-user limits, for the page to show."""
    return {"running_generations": settings.FAIR_RUNNING_GENERATIONS, "running_builds": settings.FAIR_RUNNING_BUILDS,
            "waiting_prompts": settings.FAIR_WAITING_PROMPTS}


@contextmanager
def _user_lock(owner_id: int):
    with redis_client().lock(f"kiln:fair-use:{owner_id}", timeout=LOCK_TIMEOUT_S, blocking_timeout=LOCK_TIMEOUT_S):
        yield


def _generations(owner_id: int):
    return Generation.objects.filter(turn__project__owner_id=owner_id)


def _builds(owner_id: int):
    return Build.objects.filter(app_version__project__owner_id=owner_id)


def owners_with_waiting_work() -> set[int]:
    generations = Generation.objects.filter(status=Generation.Status.WAITING)
    builds = Build.objects.filter(status=Build.Status.WAITING)
    return {*generations.values_list("turn__project__owner_id", flat=True),
            *builds.values_list("app_version__project__owner_id", flat=True)}


def check_room_for(*, owner_id: int, count: int) -> None:
    """Refuse a prompt that would put more than FAIR_WAITING_PROMPTS of the user's generations in
    the waiting line (FairUseLimit, with the message)."""
    waiting = _generations(owner_id).filter(status=Generation.Status.WAITING).count()
    running = _generations(owner_id).filter(status__in=_GENERATIONS_IN_FLIGHT).count()
    free_now = max(settings.FAIR_RUNNING_GENERATIONS - running, 0)
    if waiting + max(count - free_now, 0) > settings.FAIR_WAITING_PROMPTS:
        raise FairUseLimit(TOO_MANY_WAITING.format(waiting=waiting, limit=settings.FAIR_WAITING_PROMPTS))


def waiting_ahead(generation: Generation) -> int:
    """How many of the same user's waiting generations go before this one."""
    owner_id = generation.turn.project.owner_id
    return _generations(owner_id).filter(status=Generation.Status.WAITING, id__lt=generation.id).count()


def waiting_message(generation: Generation) -> str:
    return WAITING.format(ahead=waiting_ahead(generation) + settings.FAIR_RUNNING_GENERATIONS,
                          running=settings.FAIR_RUNNING_GENERATIONS)


def take_waiting(*, owner_id: int) -> list[int]:
    """Move the user's oldest waiting generations to queued while there is room; returns their ids
    (the caller enqueues them)."""
    return _take(_generations(owner_id), running=Generation.Status.RUNNING, limit=settings.FAIR_RUNNING_GENERATIONS,
                 owner_id=owner_id)


def take_waiting_builds(*, owner_id: int) -> list[int]:
    """Move the user's oldest waiting builds to queued while there is room; returns their ids."""
    return _take(_builds(owner_id), running=Build.Status.BUILDING, limit=settings.FAIR_RUNNING_BUILDS,
                 owner_id=owner_id)


def _take(rows, *, running: str, limit: int, owner_id: int) -> list[int]:
    """The one admission rule for both kinds of work, which share the statuses "waiting" and "queued"."""
    with _user_lock(owner_id):
        room = limit - rows.filter(status__in=("queued", running)).count()
        if room <= 0:
            return []
        waiting = list(rows.filter(status="waiting").order_by("id").values_list("id", flat=True)[:room])
        return [i for i in waiting if rows.model.objects.filter(id=i, status="waiting").update(status="queued")]
