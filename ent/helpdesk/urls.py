"""Help-desk URLs, under ``/helpdesk/``."""

from django.urls import path

from . import views

app_name = "helpdesk"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login", views.login, name="login"),
    path("login/code", views.totp, name="totp"),
    path("login/enrol", views.enrol, name="enrol"),
    path("invite", views.invite, name="invite"),
    path("search", views.search, name="search"),
    path("students/<int:pk>/", views.student, name="student"),
    path("students/<int:pk>/<slug:action>", views.student_action, name="student-action"),
    path("requests/", views.requests, name="requests"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/<slug:action>", views.request_action, name="request-action"),
    path("staff/", views.staff, name="staff"),
    path("staff/<int:pk>/", views.staff_member, name="staff-member"),
    path("staff/<int:pk>/<slug:action>", views.staff_action, name="staff-action"),
    path("settings/", views.settings_page, name="settings"),
]
