from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from builder import selectors, services
from sandbox.lifecycle import screenshot_path

# A file's URL names its version and its content hash, so what it returns never changes: the browser
# keeps it (privately: it is the owner's) and never asks again.
IMMUTABLE = "private, max-age=31536000, immutable"
BAD_TURN_CURSOR = "Say which turn to page back from: ?before=<turn id>."


@login_required
def project_list(request):
    return render(request, "builder/project_list.html", {"projects": selectors.projects_for(request.user)})


@login_required
@require_POST
def project_create(request):
    try:
        project = services.create_project(owner=request.user, name=request.POST.get("name", ""))
    except services.InvalidRequest as exc:
        messages.error(request, str(exc))
        return redirect("project_list")
    return redirect("project_detail", project_id=project.id)


@login_required
@require_POST
def project_delete(request, project_id):
    project = selectors.project_for(request.user, project_id)
    services.delete_project(project=project)
    messages.success(request, f"Deleted “{project.name}” with its previews and stored data.")
    return redirect("project_list")


@login_required
def project_detail(request, project_id):
    project = selectors.project_for(request.user, project_id)
    return render(request, "builder/project_detail.html", {"project": project})


@login_required
def build_screenshot(request, build_id):
    """The smoke test's screenshot of a preview, for its owner (and staff)."""
    path = screenshot_path(selectors.build_for(request.user, build_id))
    if path is None or not path.is_file():
        raise Http404("No screenshot for this build.")
    return FileResponse(path.open("rb"), content_type="image/png")


@login_required
@require_GET
def project_turns(request, project_id):
    """The turns before `?before=<turn id>`, a page at a time: "Show earlier turns" on a project page."""
    project = selectors.project_for(request.user, project_id)
    before = request.GET.get("before", "")
    if not before.isdigit():
        return JsonResponse({"error": BAD_TURN_CURSOR}, status=400)
    return JsonResponse(selectors.turns_before(project, request.user, int(before)))


@login_required
@require_GET
def turn_detail(request, project_id, turn_id):
    """One turn in full: every generation, whole texts, complete file lists."""
    turn = selectors.turn_for(request.user, project_id, turn_id)
    return JsonResponse(selectors.turn_in_full(turn, request.user))


@login_required
@require_GET
def version_blob(request, project_id, version_id, sha256):
    """The content of one file of a version, fetched when the user opens the file."""
    blob = selectors.blob_for(request.user, project_id, version_id, sha256)
    response = HttpResponse(blob.content, content_type="text/plain; charset=utf-8")
    response["Cache-Control"] = IMMUTABLE
    return response
