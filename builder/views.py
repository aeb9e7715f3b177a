from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from builder import selectors, services


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
def project_detail(request, project_id):
    project = selectors.project_for(request.user, project_id)
    return render(request, "builder/project_detail.html", {"project": project})
