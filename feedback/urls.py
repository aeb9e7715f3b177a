from django.urls import path

from feedback import views

urlpatterns = [
    path("", views.queue, name="review_queue"),
    path("go/", views.go, name="review_go"),
    path("leaderboard/", views.leaderboard, name="review_leaderboard"),
    path("versions/", views.versions, name="review_dashboards"),
    path("versions/<int:version_id>/", views.version_dashboard, name="review_dashboard"),
    path("blind/", views.blind_vote, name="review_blind"),
    path("blind/vote/", views.blind_vote_cast, name="review_blind_vote"),
    path("<str:kind>/<int:item_id>/", views.item, name="review_item"),
    path("<str:kind>/<int:item_id>/decide/", views.decide_item, name="review_decide"),
]
