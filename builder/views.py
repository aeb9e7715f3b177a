from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from builder import diffs, downloads, history, selectors, services
from sandbox.lifecycle import screenshot_path

# A file's URL names its version and its content hash, so what it returns never changes: the browser
# keeps it (privately: it is the owner's) and never asks again.
IMMUTABLE = "private, max-age=31536000, immutable"
BAD_TURN_CURSOR = "Say which turn to page back from: ?before=<turn id>."
BAD_DIFF_BASE = "Say which version to compare with: ?against=<version id>."


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


# --- history, diff, download (builder.history, builder.diffs, builder.downloads) ----------------------


@login_required
@require_GET
def project_versions(request, project_id):
    """Every version of the project, newest first: the History panel."""
    project = selectors.project_for(request.user, project_id)
    return JsonResponse(history.versions_of(project, request.user))


@login_required
@require_GET
def version_detail(request, project_id, version_id):
    """One version's files (listed; their content by blob URL), without changing the current version."""
    return JsonResponse(history.version_files(history.version_for(request.user, project_id, version_id)))


@login_required
@require_GET
def version_diff(request, project_id, version_id):
    """What changed from `?against=<version id>` (default: the version's parent) to this version."""
    version = history.version_for(request.user, project_id, version_id)
    against = request.GET.get("against", "")
    if against and not against.isdigit():
        return JsonResponse({"error": BAD_DIFF_BASE}, status=400)
    if against:
        base = history.version_for(request.user, project_id, int(against))
    else:
        base = version.parent if version.parent_id else None
    return JsonResponse(diffs.diff_versions(base, version))


@login_required
@require_GET
def version_zip(request, project_id, version_id):
    """The version's files as a zip, with a README on running the app outside Kiln."""
    version = history.version_for(request.user, project_id, version_id)
    number = history.version_numbers(version.project)[version.id]
    data = downloads.version_zip(version, number=number, when=timezone.now().strftime("%Y-%m-%d %H:%M UTC"))
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{downloads.zip_name(version.project, number)}"'
    return response


@login_required
@require_GET
def project_data(request, project_id):
    """The records the project's app stored, as JSON (a download)."""
    project = selectors.project_for(request.user, project_id)
    response = JsonResponse(downloads.entity_data(project), json_dumps_params={"indent": 2})
    response["Content-Disposition"] = f'attachment; filename="{downloads.slug(project)}-data.json"'
    return response
