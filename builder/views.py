from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from builder import selectors, services
from sandbox.previews import screenshot_path


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
