"""Help-desk URLs, under ``/helpdesk/``."""

from django.urls import path

from .views import auth, dashboard, registry, requests, settings, staff, students

app_name = "helpdesk"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("login", auth.login, name="login"),
    path("login/code", auth.totp, name="totp"),
    path("login/enrol", auth.enrol, name="enrol"),
    path("invite", auth.invite, name="invite"),
    path("search", students.search, name="search"),
    path("mail/<int:pk>/retry", dashboard.mail_retry, name="mail-retry"),
    path("students/<int:pk>/", students.student, name="student"),
    path("students/<int:pk>/unblock", students.student_unblock, name="student-unblock"),
    path("students/<int:pk>/<slug:action>", students.student_action, name="student-action"),
    path("requests/", requests.requests, name="requests"),
    path("requests/<int:pk>/", requests.request_detail, name="request"),
    path("requests/<int:pk>/<slug:action>", requests.request_action, name="request-action"),
    path("staff/", staff.staff, name="staff"),
    path("staff/<int:pk>/", staff.staff_member, name="staff-member"),
    path("staff/<int:pk>/<slug:action>", staff.staff_action, name="staff-action"),
    path("settings/", settings.settings_page, name="settings"),
    # Service registry (administrators)
    path("services/", registry.services_list, name="services"),
    path("services/new", registry.service_new, name="service-new"),
    path("services/<int:pk>/", registry.service_edit, name="service"),
    path("services/<int:pk>/secret", registry.service_secret, name="service-secret"),
    path("services/<int:pk>/delete", registry.service_delete, name="service-delete"),
    path("services/<int:pk>/<slug:action>", registry.service_action, name="service-action"),
]
