"""History's "Preview this version" (builder.version_previews): start or reuse a version's live preview,
and read its state while it builds. Owner-scoped: another user's ids answer 404 like missing ones."""

from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.views.decorators.http import require_http_methods

from builder import history, version_previews
from builder.services import InvalidRequest


@login_required
@require_http_methods(["GET", "POST"])
def version_preview(request, project_id, version_id):
    """POST: show this version live (its running preview, or a new side preview); GET: how it stands."""
    version = history.version_for(request.user, project_id, version_id)
    status = 200
    if request.method == "POST":
        try:
            version_previews.preview_version(version)
        except InvalidRequest as error:
            return JsonResponse({"error": str(error)}, status=400)
        status = 202
    return JsonResponse(version_previews.preview_state(version, request.user), status=status)
