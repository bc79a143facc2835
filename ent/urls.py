"""Root URLs."""

from django.urls import include, path
from django.views.i18n import set_language

from ent.accounts import documentation_views, update_request_views, views_selfservice
from ent.core import health, metrics
from ent.core import views as core_views

urlpatterns = [
    path("", include("ent.portal.urls")),
    path("", include("ent.sso.urls")),
    path("", include("ent.accounts.urls")),
    path("documentation/", documentation_views.documentation, name="documentation"),
    path("password/reset/", views_selfservice.reset_request, name="password-reset"),
    path("update-request/", update_request_views.update_request_view, name="update-request"),
    path(
        "update-request/sent/",
        update_request_views.update_request_sent,
        name="update-request-sent",
    ),
    path("helpdesk/", include("ent.helpdesk.urls")),
    path("webmail/", include("ent.webmail.urls")),
    path("cas/", include("ent.sso.cas_urls")),  # CAS 3.0 server
    path("i18n/setlang/", set_language, name="set_language"),
    path("demo/outbox", core_views.outbox, name="demo-outbox"),
    path("demo/outbox/<int:pk>", core_views.outbox_mail, name="demo-outbox-mail"),
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("metrics", metrics.metrics_view, name="metrics"),
    # OpenID Connect provider (ent.sso.oidc): discovery, /oauth/authorize/, token, userinfo…
    path("", include("ent.sso.oidc_urls")),
]

handler400 = "ent.core.errors.bad_request"
handler403 = "ent.core.errors.forbidden"
handler404 = "ent.core.errors.not_found"
handler500 = "ent.core.errors.server_error"
