from django.urls import path

from builder import compare_views, edit_views, version_preview_views, views

urlpatterns = [
    path("", views.project_list, name="project_list"),
    path("projects/new/", views.project_create, name="project_create"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/delete/", views.project_delete, name="project_delete"),
    path("projects/<int:project_id>/turns/", views.project_turns, name="project_turns"),
    path("projects/<int:project_id>/turns/<int:turn_id>/", views.turn_detail, name="turn_detail"),
    path(
        "projects/<int:project_id>/versions/<int:version_id>/blobs/<str:sha256>",
        views.version_blob,
        name="version_blob",
    ),
    path("projects/<int:project_id>/versions/", views.project_versions, name="project_versions"),
    path("projects/<int:project_id>/versions/<int:version_id>/", views.version_detail, name="version_detail"),
    path("projects/<int:project_id>/versions/<int:version_id>/diff/", views.version_diff, name="version_diff"),
    path("projects/<int:project_id>/versions/<int:version_id>/download.zip", views.version_zip, name="version_zip"),
    path("projects/<int:project_id>/data.json", views.project_data, name="project_data"),
    path("projects/<int:project_id>/turns/<int:turn_id>/compare/", compare_views.compare_turn, name="compare_turn"),
    path("projects/<int:project_id>/turns/<int:turn_id>/vote/", compare_views.compare_vote, name="compare_vote"),
    path("compare/blind/", compare_views.compare_blind, name="compare_blind"),
    path("projects/<int:project_id>/versions/<int:version_id>/edit/", edit_views.save_edit, name="save_edit"),
    path("projects/<int:project_id>/generations/<int:generation_id>/repair/", edit_views.ask_for_repair,
         name="ask_for_repair"),
    path("projects/<int:project_id>/versions/<int:version_id>/preview/", version_preview_views.version_preview,
         name="version_preview"),
    path("builds/<int:build_id>/screenshot.png", views.build_screenshot, name="build_screenshot"),
]
