"""Help-desk URLs, under ``/helpdesk/``."""

from django.urls import path

from .views import students as views

app_name = "helpdesk"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("login", views.login, name="login"),
    path("login/code", views.totp, name="totp"),
    path("login/enrol", views.enrol, name="enrol"),
    path("invite", views.invite, name="invite"),
    path("search", views.search, name="search"),
    path("mail/<int:pk>/retry", views.mail_retry, name="mail-retry"),
    path("students/<int:pk>/", views.student, name="student"),
    path("students/<int:pk>/unblock", views.student_unblock, name="student-unblock"),
    path("students/<int:pk>/<slug:action>", views.student_action, name="student-action"),
    path("requests/", views.requests, name="requests"),
    path("requests/<int:pk>/", views.request_detail, name="request"),
    path("requests/<int:pk>/<slug:action>", views.request_action, name="request-action"),
    path("staff/", views.staff, name="staff"),
    path("staff/<int:pk>/", views.staff_member, name="staff-member"),
    path("staff/<int:pk>/<slug:action>", views.staff_action, name="staff-action"),
    path("settings/", views.settings_page, name="settings"),
    # Service registry (administrators)
    path("services/", views.services_list, name="services"),
    path("services/new", views.service_new, name="service-new"),
    path("services/<int:pk>/", views.service_edit, name="service"),
    path("services/<int:pk>/secret", views.service_secret, name="service-secret"),
    path("services/<int:pk>/delete", views.service_delete, name="service-delete"),
    path("services/<int:pk>/<slug:action>", views.service_action, name="service-action"),
]
