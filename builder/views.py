from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def project_list(request):
    return render(request, "builder/project_list.html", {})
