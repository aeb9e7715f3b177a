from django.urls import path

from builder import views

urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/delete/", views.project_delete, name="project_delete"),
    path("builds/<int:build_id>/screenshot.png", views.build_screenshot, name="build_screenshot"),
]
