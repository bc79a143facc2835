"""Views of the OpenID Connect provider: DOT's views, with ENT pages and ENT rules.

The protocol work stays in django-oauth-toolkit (token, userinfo, JWKS are used as they are);
these subclasses only decide what a *person* sees: the consent page and the errors in the ENT
look and in French, never a 500, and never a redirect to an address the registry does not
hold.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import (
    InvalidOIDCClientError,
    InvalidOIDCRedirectURIError,
    LogoutDenied,
    OAuthToolkitError,
)
from oauth2_provider.models import Application
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView, RPInitiatedLogoutView
from oauth2_provider.views.mixins import OAuthLibMixin
from oauthlib.oauth2.rfc6749 import errors as oauth_errors
from oauthlib.openid.connect.core.exceptions import LoginRequired

from ent.accounts.models import Account
from ent.core import metrics
from ent.core.audit import Kind, audit_record
from ent.core.csp import form_action_allow
from ent.core.durable import refusal_scope
from ent.core.fastsql import commit_without_flush
from ent.core.net import client_ip

from .oidc import (
    SUPPORTED_CLAIMS,
    client_id_plausible,
    oidc_authorisation_record,
    service_of,
)

_CLIENT_ERRORS = (oauth_errors.InvalidClientIdError, oauth_errors.MissingClientIdError)
_REDIRECT_ERRORS = (
    oauth_errors.MismatchingRedirectURIError,
    oauth_errors.InvalidRedirectURIError,
    oauth_errors.MissingRedirectURIError,
)


def _explain(error: Any) -> str:
    """A sentence in French for an error shown to the student instead of a redirect."""
    if isinstance(error, (_CLIENT_ERRORS, InvalidOIDCClientError)):
        return _(
            "Ce service n'est pas enregistré auprès de l'ENT (identifiant client inconnu ou"
            " manquant). Contactez le responsable du service."
        )
    if isinstance(error, (_REDIRECT_ERRORS, InvalidOIDCRedirectURIError)):
        return _(
            "L'adresse de retour demandée par ce service n'est pas enregistrée à l'ENT : par"
            " sécurité, vous n'y êtes pas renvoyé."
        )
    return _("La demande de ce service est incorrecte ; vous n'avez pas été connecté au service.")


class AuthorizeView(AuthorizationView):
    """``/oauth/authorize/``: sign-in to a service; consent page for untrusted services."""

    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # prompt=none (OIDC Core 3.1.2.6) never shows a page: a signed-out browser gets
        # login_required at the registered redirect URI instead of the login page. The request
        # is validated first, so an unknown client or redirect URI still gets the error page.
        prompt = request.GET.get("prompt", "").split()
        if "none" in prompt and not request.user.is_authenticated:
            self.oauth2_data: dict[str, Any] = {}
            try:
                _scopes, credentials = self.validate_authorization_request(request)
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
            silent = OAuthToolkitError(
                error=LoginRequired(state=credentials.get("state")),
                redirect_uri=credentials["redirect_uri"],
            )
            return self.error_response(silent, application=None)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> Any:
        # The grant, its audit record and the session index are written together.
        with transaction.atomic():
            result = super().create_authorization_response(request, scopes, credentials, allow)
            oidc_authorisation_record(
                request=request, client_id=credentials["client_id"], ip=client_ip(request)
            )
        return result

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        application = context.get("application")
        service = service_of(application) if isinstance(application, Application) else None
        context["service"] = service
        return context

    def form_valid(self, form: Any) -> HttpResponse:
        # DOT looks the posted client id up with .get(): a tampered form would be a 500.
        client_id = form.cleaned_data["client_id"]
        if (
            not client_id_plausible(client_id)
            or not Application.objects.filter(client_id=client_id).exists()
        ):
            return self._error_page(oauth_errors.InvalidClientIdError(), 400)
        return super().form_valid(form)  # type: ignore[no-any-return]

    def form_invalid(self, form: Any) -> HttpResponse:
        return self._error_page(oauth_errors.InvalidRequestError(), 400)

    def error_response(self, error: Any, application: Any, **kwargs: Any) -> HttpResponse:
        must_redirect, response = OAuthLibMixin.error_response(self, error, **kwargs)
        if must_redirect:
            return self.redirect(response["url"], application)  # type: ignore[no-any-return]
        return self._error_page(response["error"], response["error"].status_code)

    def _error_page(self, error: Any, status: int) -> HttpResponse:
        return self.render_to_response(
            {"error": error, "explanation": _explain(error)}, status=status
        )

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        if "error" not in context and context.get("redirect_uri"):
            # The consent form's answer is a redirect to the service's redirect_uri (checked by
            # DOT before the form is shown): its CSP form-action must allow that origin.
            form_action_allow(response, str(context["redirect_uri"]))
        return response  # type: ignore[no-any-return]


class LogoutView(RPInitiatedLogoutView):
    """``/oauth/logout/``: RP-initiated logout; ends the ENT session (and so every service)."""

    template_name = "oauth2_provider/logout_confirm.html"

    def get_request_application(self, id_token: Any, client_id: str | None) -> Any:
        if client_id:
            application = (
                Application.objects.filter(client_id=client_id).first()
                if client_id_plausible(client_id)
                else None
            )
            if application is None:
                raise InvalidOIDCClientError()
            return application
        if id_token:
            return id_token.application
        return None

    def validate_post_logout_redirect_uri(
        self, application: Any, post_logout_redirect_uri: str | None
    ) -> None:
        if not post_logout_redirect_uri:
            return
        if not application:
            raise InvalidOIDCClientError()
        # Exact match with an address the registry holds for this client, nothing looser.
        if post_logout_redirect_uri not in application.post_logout_redirect_uris.split():
            raise InvalidOIDCRedirectURIError(
                "This client does not have this post_logout_redirect_uri registered."
            )

    def do_logout(
        self,
        application: Any = None,
        post_logout_redirect_uri: str | None = None,
        state: str | None = None,
        token_user: Any = None,
    ) -> HttpResponse:
        user = self.request.user
        if isinstance(user, Account):
            audit_record(
                kind=Kind.OIDC_LOGOUT,
                student=user.student,
                actor=user,
                ip=client_ip(self.request),
                client_id=getattr(application, "client_id", None),
            )
        # token_user=None: DOT then deletes the tokens of the signed-in user, and of nobody for a
        # visitor without a session. Given the ID token's user, it would delete that student's
        # tokens for whoever holds one of their ID tokens, signed in as someone else or not.
        response = super().do_logout(application, post_logout_redirect_uri, state, None)
        if not post_logout_redirect_uri:
            # DOT would build the address from the Host header; ENT links never are.
            return redirect("portal:home")
        return response  # type: ignore[no-any-return]

    def form_invalid(self, form: Any) -> HttpResponse:
        return self.error_response(InvalidOIDCClientError())

    def render_to_response(self, context: dict[str, Any], **kwargs: Any) -> HttpResponse:
        response = super().render_to_response(context, **kwargs)
        target = getattr(self, "oidc_data", {}).get("post_logout_redirect_uri")
        if "error" not in context and target:
            # "Se déconnecter" ends at the service's post-logout URI (validated against the
            # registry before the form is shown): its CSP form-action must allow that origin.
            form_action_allow(response, str(target))
        return response  # type: ignore[no-any-return]

    def error_response(self, error: Any) -> HttpResponse:
        if isinstance(error, LogoutDenied):  # "Rester connecté": back to the portal
            return redirect("portal:home")
        return self.render_to_response(
            {"error": error, "explanation": _explain(error)}, status=error.status_code
        )


def bearer_placement_refusal(request: HttpRequest) -> HttpResponse | None:
    """The answer to a request that puts an access token anywhere but the Authorization header.

    RFC 9700 2.4 and RFC 6750 2.3/5.3: a token in the query string ends up in access logs,
    browser history and Referer headers; ENT takes the header only (the README says so), and
    refuses the form-body and query placements outright (401 ``invalid_request``, RFC 6750
    3.1) rather than ignoring them, even beside a valid header (one method per request).
    """
    in_query = "access_token" in request.GET
    in_body = request.method == "POST" and "access_token" in request.POST
    if not (in_query or in_body):
        return None
    description = "The access token is accepted in the Authorization header only."
    response = JsonResponse(
        {"error": "invalid_request", "error_description": description}, status=401
    )
    response["WWW-Authenticate"] = (
        f'Bearer error="invalid_request", error_description="{description}"'
    )
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(csrf_exempt, name="dispatch")  # DOT's, lost when dispatch is overridden
@method_decorator(sensitive_post_parameters("access_token"), name="dispatch")
class UserInfoView(dot_views.UserInfoView):
    """``/oauth/userinfo/`` (GET and POST): DOT's, with the access token from the header only."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        refusal = bearer_placement_refusal(request)
        if refusal is not None:
            return refusal
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]


def _token_result(status: int, body: str | bytes) -> str:
    """The metric label of a token endpoint answer: success, or its OAuth error code."""
    if status == 200:
        return "success"
    try:
        error = json.loads(body).get("error", "")
    except (ValueError, AttributeError):
        error = ""
    return error if error in metrics.OAUTH_ERRORS else "other_error"


class TokenView(dot_views.TokenView):
    """``/oauth/token/``: DOT's token endpoint, in one transaction, without a re-read.

    One transaction for the whole exchange: the ID token, the access and refresh tokens and
    the deletion of the code are kept together, and nothing of it stays if the answer is an
    error (a code spent twice at the same moment loses on the deletion and rolls back). What
    a refusal must leave (revocations on replay) is written after it, in its own transaction.
    DOT also reads the new access token back to send its ``app_authorized`` signal; ENT has
    no receiver for it, so that query is saved.
    """

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        """Every grant through oauthlib, which answers ``unsupported_grant_type`` (400) for
        one ENT does not offer.

        DOT's own ``post`` sends ``grant_type=urn:ietf:params:oauth:grant-type:device_code``
        to its device-flow code before any check: a request without ``device_code`` was a
        500 (``MultiValueDictKeyError``), and one with it looked up device grants although
        ENT never enabled that flow (RFC 8628).
        """
        return self.authorization_flow_token_response(request)

    @method_decorator(sensitive_post_parameters("client_secret", "code_verifier"))
    def authorization_flow_token_response(
        self, request: HttpRequest, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        # A refusal rolls the exchange back, but not what the refusal must leave behind: the
        # revocation of a replayed refresh token's family or of a replayed code's tokens is
        # queued (ent.core.durable.outlive_refusal) and committed after the rollback.
        with refusal_scope(), transaction.atomic():
            if request.POST.get("grant_type") == "authorization_code":
                # Waiting for the disk flush was the largest part of an exchange. A crash of
                # the database within 0.6 s could forget this exchange: the tokens would then
                # be unknown (the client signs in again) and the code, 60 s at most, could be
                # exchanged once more. The same trade-off as a CAS ticket's (ent/sso/cas.py).
                # A revocation is not part of this transaction: it is flushed as usual.
                commit_without_flush()
            _url, headers, body, status = self.create_token_response(request)
            if status != 200:
                transaction.set_rollback(True)
        metrics.OIDC_TOKEN_EXCHANGES.labels(result=_token_result(status, body)).inc()
        response = HttpResponse(content=body, status=status)
        for key, value in headers.items():
            response[key] = value
        return response


@cache_control(public=True, max_age=3600)
def discovery(request: HttpRequest) -> JsonResponse:
    """``/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0), from BASE_URL."""
    base = str(settings.BASE_URL)

    def url(name: str) -> str:
        return base + reverse(f"oauth2_provider:{name}")

    data = {
        "issuer": base,
        "authorization_endpoint": url("authorize"),
        "token_endpoint": url("token"),
        "userinfo_endpoint": url("user-info"),
        "jwks_uri": url("jwks-info"),
        "end_session_endpoint": url("rp-initiated-logout"),
        "revocation_endpoint": url("revoke-token"),
        "scopes_supported": list(oauth2_settings.SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": SUPPORTED_CLAIMS,
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "ui_locales_supported": [code for code, _name in settings.LANGUAGES],
        "backchannel_logout_supported": True,
        # RFC 9207 (COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS): the code comes with "iss".
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_session_supported": False,
    }
    response = JsonResponse(data)
    response["Access-Control-Allow-Origin"] = "*"
    return response
