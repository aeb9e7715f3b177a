"""Hand edits over HTTP (builder.edits): save a file as a new version; ask the model to fix a hand edit
whose build broke. Both answer with the new generation's state, which the page then follows on its
socket like any generation (a `subscribe` message). Another user's ids answer 404, as missing ones do."""

import json

from django.contrib.auth.decorators import login_required
from django.http import Http404, JsonResponse
from django.views.decorators.http import require_POST

from builder import edits, history, selectors
from builder.services import InvalidRequest

# What the editor may send in one save: a file at the protocol's size limit, JSON-escaped.
MAX_BODY_BYTES = 6 * edits.protocol.MAX_FILE_BYTES + 10_000
BAD_BODY = "Kiln did not understand that save: send JSON with “path” and “content”."
TOO_BIG = "That file is too large to save."


@login_required
@require_POST
def save_edit(request, project_id, version_id):
    """POST {"path", "content"} (JSON): a new version with that file changed; 201 with its generation."""
    version = history.version_for(request.user, project_id, version_id)
    if len(request.body) > MAX_BODY_BYTES:
        return JsonResponse({"error": TOO_BIG}, status=413)
    try:
        body = json.loads(request.body)
    except ValueError:
        return JsonResponse({"error": BAD_BODY}, status=400)
    if not isinstance(body, dict):
        return JsonResponse({"error": BAD_BODY}, status=400)
    try:
        generation = edits.save_edit(user=request.user, project=version.project, version=version,
                                     path=body.get("path"), content=body.get("content"))
    except InvalidRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"generation": selectors.generation_state(generation, request.user)}, status=201)


@login_required
@require_POST
def ask_for_repair(request, project_id, generation_id):
    """The user asks the model to fix their hand edit's broken build: 201 with the repair's generation."""
    generation = selectors.generation_for(request.user, generation_id)
    if generation.turn.project_id != project_id:
        raise Http404
    try:
        repair = edits.ask_for_repair(generation=generation)
    except InvalidRequest as exc:
        return JsonResponse({"error": str(exc)}, status=400)
    return JsonResponse({"generation": selectors.generation_state(repair, request.user)}, status=201)
