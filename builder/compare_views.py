"""Compare side by side over HTTP: a compare turn's state, the vote, and the blind-mode setting.

Thin interfaces (builder.compare reads, feedback.votes records): every view finds the turn among the
user's own (another user's ids answer 404, like ids that do not exist), validates its input, calls one
function and answers JSON. Refusals are 400 with the message the page shows.
"""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.views.decorators.http import require_GET, require_POST

from builder import compare, selectors
from feedback import votes

BAD_BLIND = "Say blind=on or blind=off."


@login_required
@require_GET
def compare_turn(request, project_id, turn_id):
    """Both candidates of a compare turn, their files and previews, and the user's vote if any."""
    turn = selectors.turn_for(request.user, project_id, turn_id)
    return JsonResponse(compare.compare_state(turn, request.user))


@login_required
@require_POST
def compare_vote(request, project_id, turn_id):
    """Record the user's vote (choice=a|b|tie|both_bad, reason optional); answers the revealed state."""
    turn = selectors.turn_for(request.user, project_id, turn_id)
    try:
        votes.record_vote(user=request.user, turn=turn, choice=request.POST.get("choice", ""),
                          reason=request.POST.get("reason", ""))
    except votes.InvalidVote as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse(compare.compare_state(turn, request.user))


@login_required
@require_POST
def compare_blind(request):
    """Turn blind mode on or off for the user's comparisons."""
    value = request.POST.get("blind", "")
    if value not in ("on", "off"):
        return JsonResponse({"error": BAD_BLIND}, status=400)
    return JsonResponse({"blind": compare.set_blind(user=request.user, blind=value == "on")})
