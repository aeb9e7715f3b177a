from django.http import HttpResponseNotFound


def preview_proxy(request, path):
    return HttpResponseNotFound("no preview")
