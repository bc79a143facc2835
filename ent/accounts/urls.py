"""URLs of the account journeys."""

from django.urls import path

from . import views, views_selfservice

app_name = "accounts"
urlpatterns = [
    path("activation/", views.identify, name="activation"),
    path("activation/details/", views.details, name="activation-details"),
    path("activation/sent/", views.sent, name="activation-sent"),
    path("activation/confirm", views.confirm, name="activation-confirm"),
    path("charter/", views.charter, name="charter"),
    # Self-service (the public form /password/reset/ is ``password-reset`` in ent/urls.py).
    path("password/reset/confirm", views_selfservice.reset_confirm, name="reset-confirm"),
    path("account/", views_selfservice.profile, name="profile"),
    path("account/password/", views_selfservice.password_change_view, name="password-change"),
    path("account/email/", views_selfservice.email_change_view, name="email-change"),
    path("account/email/confirm", views_selfservice.email_confirm, name="email-confirm"),
]
