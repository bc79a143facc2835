"""URLs of signing in and out."""

from django.urls import path

from . import views

app_name = "sso"
urlpatterns = [
    path("login", views.login, name="login"),
    path("logout", views.logout, name="logout"),
]
