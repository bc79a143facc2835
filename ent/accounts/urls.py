"""URLs of the account journeys."""

from django.urls import path

from . import views

app_name = "accounts"
urlpatterns = [
    path("activation/", views.identify, name="activation"),
    path("activation/details/", views.details, name="activation-details"),
    path("activation/sent/", views.sent, name="activation-sent"),
    path("activation/confirm", views.confirm, name="activation-confirm"),
    path("charter/", views.charter, name="charter"),
]
