from django.urls import path

from training import views

urlpatterns = [
    path("", views.runs, name="review_evaluations"),
    path("<int:run_id>/", views.run_detail, name="review_evaluation"),
]
