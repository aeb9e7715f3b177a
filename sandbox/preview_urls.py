from django.urls import re_path

from sandbox import views

urlpatterns = [
    re_path(r"^(?P<path>.*)$", views.preview_proxy),
]
