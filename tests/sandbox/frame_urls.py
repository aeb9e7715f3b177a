"""A stand-in for the builder's page (not this room's): a page on the builder's origin that frames a URL.

Served by the live server itself, so Chromium sees a real loopback document (Local Network Access
checks block a loopback iframe inside a page it cannot place on an address).
"""

from django.http import HttpResponse
from django.urls import path
from django.utils.html import format_html


def frame(request):
    return HttpResponse(format_html('<!doctype html><iframe id="preview" src="{}"></iframe>', request.GET["src"]))


urlpatterns = [path("frame/", frame)]
