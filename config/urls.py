from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

admin.site.site_header = "Kiln review"
admin.site.site_title = "Kiln review"

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("review/evaluations/", include("training.urls")),
    path("review/", include("feedback.urls")),
    path("", include("builder.urls")),
]
