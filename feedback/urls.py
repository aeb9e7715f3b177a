from django.urls import path

from feedback import views

urlpatterns = [
    path("", views.queue, name="review_queue"),
    path("go/", views.go, name="review_go"),
    path("leaderboard/", views.leaderboard, name="review_leaderboard"),
    path("versions/", views.version_dashboard, name="review_dashboards"),
    path("versions/<int:version_id>/", views.version_dashboard, name="review_dashboard"),
    path("<str:kind>/<int:item_id>/", views.item, name="review_item"),
    path("<str:kind>/<int:item_id>/decide/", views.decide_item, name="review_decide"),
]
