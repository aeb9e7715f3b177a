"""Compare side by side: the state of a compare turn's two candidates as the compare view shows them,
and the user's blind-mode setting. Votes themselves are recorded by feedback.votes.

Each side shows the app its candidate ended with: the candidate's own version, or, when its build
failed and Kiln repaired it, the repair's (a repair is a generation of the same turn whose `repair_of`
is the failed build). The vote is always about the two candidates, the model's two answers to the same
prompt, which is what a preference pair needs.

Blind mode (a per-user setting, on by default): the model versions are left out of the state until
the user has voted, so the page cannot show them even by mistake.
"""

from django.http import Http404

from builder import selectors
from feedback import votes
from feedback.models import CompareSettings
from generation.models import Generation

NOT_A_COMPARISON = "This turn has no two candidates side by side."
# A chain of repairs is short (builder.repairs stops after a few attempts); this only bounds the walk.
REPAIR_CHAIN_LIMIT = 10


def set_blind(*, user, blind: bool) -> bool:
    CompareSettings.objects.update_or_create(user=user, defaults={"blind": blind})
    return blind


def shown_generations(turn, candidates: list[Generation]) -> dict[int, int]:
    """candidate id -> id of the generation whose app is on screen for it (the last repair, if any)."""
    repairs = {}  # failed version id -> (repair id, repair's version id); a later repair of it wins
    rows = (
        Generation.objects.filter(turn=turn, kind=Generation.Kind.REPAIR, repair_of__isnull=False)
        .order_by("id")
        .values_list("repair_of__app_version_id", "id", "app_version_id")
    )
    for failed_version, repair_id, repair_version in rows:
        repairs[failed_version] = (repair_id, repair_version)
    shown = {}
    for candidate in candidates:
        current, version = candidate.id, candidate.app_version_id
        for _ in range(REPAIR_CHAIN_LIMIT):
            if version is None or version not in repairs:
                break
            current, version = repairs[version]
        shown[candidate.id] = current
    return shown


def _side_settled(side: dict) -> bool:
    """Nothing more will change on this side: no generation running, no build or smoke test pending
    (a failed build may still get a repair, so it keeps the view listening)."""
    if side["status"] not in Generation.FINAL_STATUSES:
        return False
    if side["status"] != Generation.Status.DONE:
        return True
    build = side["build"]
    return build is not None and build["final"] and build["status"] != "failed"


def compare_state(turn, user) -> dict:
    """Both candidates of a compare turn with their files and builds, the user's vote, and the model
    versions when they may be shown (blind mode off, or after the vote). 404 for a turn that is not
    a comparison. The caller has checked that the turn is the user's."""
    candidates = votes.compare_candidates(turn)
    if not candidates:
        raise Http404(NOT_A_COMPARISON)
    vote = votes.vote_of(user=user, turn=turn)
    blind = CompareSettings.blind_for(user)
    revealed = vote is not None or not blind
    shown = shown_generations(turn, candidates)
    full = {g["id"]: g for g in selectors.turn_in_full(turn, user)["generations"]}
    sides = []
    for letter, candidate in zip("AB", candidates):
        summary = full[shown[candidate.id]]
        sides.append({
            "letter": letter,
            "candidate": candidate.candidate,
            "generation": candidate.id,
            "shown": summary["id"],
            "repaired": summary["id"] != candidate.id,
            "status": summary["status"],
            "explanation": summary["explanation"],
            "error": summary["error"],
            "version": summary["version"],
            "files": summary["files"],
            "file_count": summary["file_count"],
            "build": summary["build"],
            "model": candidate.model_version.name if revealed else None,
        })
    problem = votes.refusal(candidates)
    return {
        "turn": turn.id,
        "project": turn.project_id,
        "prompt": turn.prompt,
        "blind": blind,
        "revealed": revealed,
        "sides": sides,
        "vote": {
            "choice": votes.choice_of(vote, candidates),
            "label": votes.CHOICE_LABELS[votes.choice_of(vote, candidates)],
            "reason": vote.reason,
        } if vote else None,
        "can_vote": vote is None and problem is None,
        "waiting": problem if vote is None else None,
        "settled": all(_side_settled(side) for side in sides),
    }
