"""The review console (/review/): staff only; anyone else gets 404, as if it did not exist."""

from functools import wraps
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from feedback import blind, dashboard, selectors
from feedback import leaderboard as board
from feedback.review import InvalidDecision, decide
from generation.models import ModelVersion

PAGE_SIZE = 50
QUEUE_DONE = "No more items in this queue."
FILTER_KEYS = ("kind", "model_version", "source", "status", "defect", "since", "until", "user", "sort")


def staff_only(view):
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not (request.user.is_authenticated and request.user.is_staff):
            raise Http404
        return view(request, *args, **kwargs)

    return wrapped


def _position(text) -> int:
    """A queue position from the address or a form; anything else (edited by hand) is the first."""
    try:
        return max(int(text or 0), 0)
    except ValueError:
        return 0


def _filter_query(request) -> str:
    return urlencode({k: request.GET[k] for k in FILTER_KEYS if request.GET.get(k)})


def _item_url(kind: str, item_id: int, position: int, filter_query: str) -> str:
    url = reverse("review_item", args=[kind, item_id])
    return f"{url}?{filter_query + '&' if filter_query else ''}i={position}"


@staff_only
@require_GET
def queue(request):
    filters = selectors.QueueFilters.from_query(request.GET)
    page = Paginator(selectors.queue(filters), PAGE_SIZE).get_page(request.GET.get("page"))
    filter_query = _filter_query(request)
    rows = selectors.queue_rows(page.object_list)
    for offset, row in enumerate(rows):
        row["url"] = _item_url(row["kind"], row["item_id"], page.start_index() - 1 + offset, filter_query)
    return render(request, "review/queue.html", {
        "page": page, "rows": rows, "filters": filters, "choices": selectors.filter_choices(),
        "filter_query": filter_query,
    })


@staff_only
@require_GET
def go(request):
    """The item at position `i` of the filtered queue (next / previous), skipping `skip` (kind:id), the
    item just decided, when it is still there."""
    position = _position(request.GET.get("i"))
    rows = list(selectors.queue(selectors.QueueFilters.from_query(request.GET))[position:position + 2])
    skip = request.GET.get("skip", "")
    if rows and f"{rows[0][0]}:{rows[0][1]}" == skip:
        rows, position = rows[1:], position + 1
    if not rows:
        messages.info(request, QUEUE_DONE)
        return redirect(f"{reverse('review_queue')}?{_filter_query(request)}")
    return redirect(_item_url(rows[0][0], rows[0][1], position, _filter_query(request)))



@staff_only
@require_GET
def item(request, kind, item_id):
    position = _position(request.GET.get("i"))
    filter_query = _filter_query(request)
    context = {"kind": kind, "position": position, "filter_query": filter_query,
               "go_url": reverse("review_go"), "decide_url": reverse("review_decide", args=[kind, item_id])}
    if kind == selectors.PAIR:
        pair = selectors.pair_for_review(item_id)
        context.update(
            pair=pair, status=pair.review_status,
            sides=[selectors.side(pair.chosen_generation), selectors.side(pair.rejected_generation)],
            prompt=selectors.conversation(pair.prompt), decisions=selectors.decisions_of(pair=pair),
            voter=selectors.user_hash(pair.feedback.user_id) if pair.feedback else "",
            staff_vote=bool(pair.feedback and pair.feedback.from_staff),
        )
    elif kind == selectors.GENERATION:
        generation = selectors.generation_for_review(item_id)
        context.update(
            generation=generation, status=selectors.generation_status(generation),
            sides=[selectors.side(generation)], prompt=selectors.conversation(generation.request_messages),
            decisions=selectors.decisions_of(generation=generation),
            voter=selectors.user_hash(generation.turn.project.owner_id),
        )
    else:
        raise Http404
    context["tags"] = sorted({tag for decision in context["decisions"] for tag in decision.tags})
    return render(request, "review/item.html", context)


@staff_only
@require_POST
def decide_item(request, kind, item_id):
    target = ({"pair": selectors.pair_for_review(item_id)} if kind == selectors.PAIR
              else {"generation": selectors.generation_for_review(item_id)} if kind == selectors.GENERATION else None)
    if target is None:
        raise Http404
    position = _position(request.POST.get("i"))
    filter_query = request.POST.get("filters", "")
    try:
        decision = decide(reviewer=request.user, action=request.POST.get("action", ""),
                          reason=request.POST.get("reason", ""), tags=request.POST.get("tags", ""), **target)
    except InvalidDecision as error:
        messages.error(request, str(error))
        return redirect(_item_url(kind, item_id, position, filter_query))
    if decision.action == decision.Action.TAG:
        return redirect(_item_url(kind, item_id, position, filter_query))
    query = f"{filter_query + '&' if filter_query else ''}i={position}&skip={kind}:{item_id}"
    return redirect(f"{reverse('review_go')}?{query}")


@staff_only
@require_GET
def leaderboard(request):
    votes = board.explicit_votes()
    return render(request, "review/leaderboard.html", {
        "ranking": board.ranking(votes), "win_rates": board.win_rates(votes), "vote_count": len(votes),
        "staff_vote_count": sum(v.from_staff for v in votes),
    })


@staff_only
@require_GET
def versions(request):
    """Every model version side by side over the chosen range."""
    rng = dashboard.DateRange.from_query(request.GET)
    all_versions = dashboard.model_versions()
    return render(request, "review/versions.html", {
        "versions": all_versions, "range": rng, "panels": dashboard.cross_version_panels(all_versions, rng),
    })


@staff_only
@require_GET
def version_dashboard(request, version_id):
    version = get_object_or_404(ModelVersion, pk=version_id)
    rng = dashboard.DateRange.from_query(request.GET)
    return render(request, "review/dashboard.html", {
        "version": version, "versions": dashboard.model_versions(), "range": rng, "panels": dashboard.version_panels(version, rng),
    })


@staff_only
@require_GET
def blind_vote(request):
    """The next open comparison, model versions hidden; `after` skips past a turn."""
    after = _position(request.GET.get("after"))
    found = blind.next_matchup(reviewer=request.user, after_turn=after)
    return render(request, "review/blind.html", {
        "matchup": found, "open_count": blind.open_count(), "after": after,
        "sides": [selectors.blind_side(g, request.user) for g in (found.left, found.right)] if found else [],
        "prompt": found.prompt if found else [],
    })


@staff_only
@require_POST
def blind_vote_cast(request):
    left_id, right_id = _position(request.POST.get("left")), _position(request.POST.get("right"))
    try:
        feedback = blind.record_staff_vote(reviewer=request.user, left_id=left_id, right_id=right_id,
                                           choice=request.POST.get("choice", ""))
    except blind.InvalidVote as error:
        messages.error(request, str(error))
    else:
        messages.success(request, blind.reveal(feedback, left_id=left_id, right_id=right_id))
    return redirect(f"{reverse('review_blind')}?after={_position(request.POST.get('after'))}")
