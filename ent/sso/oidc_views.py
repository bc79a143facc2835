"""Views of the OpenID Connect provider: DOT's views, with ENT pages and ENT rules.

The protocol work stays in django-oauth-toolkit (token, userinfo, JWKS are used as they are);
these subclasses only decide what a *person* sees: the consent page and the errors in the ENT
look and in French, never a 500, and never a redirect to an address the registry does not
hold.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, resolve_url
from django.urls import reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views as dot_views
from oauth2_provider.exceptions import (
    FatalClientError,
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
from oauthlib.oauth2.rfc6749.errors import CustomOAuth2Error

from ent.accounts.models import Account
from ent.core import clock, metrics
from ent.core import session_keys as keys
from ent.core.audit import Kind, audit_record
from ent.core.csp import form_action_allow
from ent.core.durable import refusal_scope
from ent.core.fastsql import commit_without_flush
from ent.core.net import client_ip

from .form_targets import oidc_redirect_registered
from .oidc import (
    PROMPT_VALUES,
    SUPPORTED_CLAIMS,
    authorize_decide,
    client_id_plausible,
    oidc_authorisation_record,
    service_of,
    session_authenticated_at,
)

# prompt values answered by authorize_decide (DOT must not act on them again).
_DECIDED = {"login", "select_account"}
_CLIENT_ERRORS = (oauth_errors.InvalidClientIdError, oauth_errors.MissingClientIdError)
_REDIRECT_ERRORS = (
    oauth_errors.MismatchingRedirectURIError,
    oauth_errors.InvalidRedirectURIError,
    oauth_errors.MissingRedirectURIError,
)


def _login_asked_at(request: HttpRequest) -> datetime | None:
    """When this very authorization request last sent the browser to /login, if it did."""
    asked = request.session.get(keys.OIDC_LOGIN_ASKED)
    if not isinstance(asked, dict) or asked.get("url") != request.get_full_path():
        return None
    try:
        return datetime.fromisoformat(str(asked.get("at")))
    except ValueError:
        return None


def _registered_redirect_uri(request: HttpRequest) -> str | None:
    """The request's redirect_uri if it is registered for its (usable) client, else None."""
    client_id, uri = request.GET.get("client_id", ""), request.GET.get("redirect_uri", "")
    return uri if oidc_redirect_registered(client_id, uri) else None


def _asks_a_fresh_sign_in(request: HttpRequest) -> bool:
    """Whether the request asks more than a signed-in student (a new or a given sign-in)."""
    prompt = set(request.GET.get("prompt", "").split())
    return bool(prompt & _DECIDED) or "max_age" in request.GET or "id_token_hint" in request.GET


def _ui_locales_apply(request: HttpRequest, ui_locales: str) -> None:
    """The first language of ``ui_locales`` ENT speaks, for the pages of this request (OIDC
    Core 3.1.2.1: the others are ignored, never an error)."""
    supported = {code for code, _name in settings.LANGUAGES}
    for tag in ui_locales.split()[:10]:
        language = tag.split("-")[0].lower()
        if language in supported:
            translation.activate(language)
            request.LANGUAGE_CODE = language
            return


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


def _sign_in_first(request: HttpRequest, *, signed_in: bool) -> HttpResponse:
    """To ``/login``, then back to this authorization request."""
    # Back here after /login; the sign-in then satisfies prompt=login and max_age,
    # max_age=0 included (a sign-in later than this moment). A plain request from a
    # signed-out browser needs no mark (and opens no session for it).
    if signed_in or _asks_a_fresh_sign_in(request):
        request.session[keys.OIDC_LOGIN_ASKED] = {
            "url": request.get_full_path(),
            "at": clock.now().isoformat(),
        }
    return redirect_to_login(request.get_full_path(), resolve_url(settings.LOGIN_URL))


def _prompt_drop_decided(request: HttpRequest) -> None:
    """Take out of ``prompt`` the values ``authorize_decide`` answered."""
    # prompt=login and select_account are answered: DOT's own prompt=login would send
    # the student to /login once more.
    prompt = [v for v in request.GET.get("prompt", "").split() if v not in _DECIDED]
    query = request.GET.copy()
    if prompt:
        query["prompt"] = " ".join(prompt)
    else:
        query.pop("prompt", None)
    request.GET = query  # type: ignore[assignment]


class _ConsentFirst(Exception):
    """Raised instead of issuing a code without the consent page (``prompt=consent``)."""


class AuthorizeView(AuthorizationView):
    """``/oauth/authorize/``: sign-in to a service; consent page for untrusted services.

    What the request asks of the ENT session (``prompt``, ``max_age``, ``id_token_hint``…) is
    decided by ``ent.sso.oidc.authorize_decide``; this view only turns its answer into HTTP.
    """

    template_name = "oauth2_provider/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.method != "GET":
            # The consent form's POST: decided when its page was shown.
            return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]
        # The request is validated first, so an unknown client or redirect URI gets the error
        # page, and every other answer goes to the registered redirect URI.
        self.oauth2_data: dict[str, Any] = {}
        try:
            _scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self._invalid_request(request, error)
        _ui_locales_apply(request, str(request.GET.get("ui_locales", "")))
        user = request.user
        account = user if user.is_authenticated and isinstance(user, Account) else None
        decision = authorize_decide(
            params=request.GET,
            account=account,
            trusted=bool(
                getattr(
                    getattr(credentials.get("request"), "client", None), "skip_authorization", False
                )
            ),
            authenticated_at=session_authenticated_at(request.session),
            login_asked_at=_login_asked_at(request),
        )
        if decision.error is not None:
            refusal = CustomOAuth2Error(
                error=decision.error,
                description=decision.description,
                state=credentials.get("state"),
            )
            return self.error_response(
                OAuthToolkitError(error=refusal, redirect_uri=credentials["redirect_uri"]),
                application=None,
            )
        if decision.login:
            return _sign_in_first(request, signed_in=account is not None)
        request.session.pop(keys.OIDC_LOGIN_ASKED, None)
        self.consent_forced = decision.consent
        _prompt_drop_decided(request)
        return super().dispatch(request, *args, **kwargs)  # type: ignore[no-any-return]

    def _invalid_request(self, request: HttpRequest, error: OAuthToolkitError) -> HttpResponse:
        """The answer to a request oauthlib refused: the error page, or the redirect URI."""
        if not isinstance(error, FatalClientError) and not error.oauthlib_error.redirect_uri:
            # oauthlib leaves the redirect URI out of a few errors (a malformed "claims"):
            # the registered one the request named, as for every other refusal.
            error.oauthlib_error.redirect_uri = _registered_redirect_uri(request)
            error.oauthlib_error.state = request.GET.get("state")
            if not error.oauthlib_error.redirect_uri:
                return self._error_page(error.oauthlib_error, 400)
        return self.error_response(error, application=None)

    def validate_authorization_request(self, request: HttpRequest) -> Any:
        # Once per request: dispatch has already validated what DOT's get validates again.
        cached = getattr(self, "_validated", None)
        if cached is None:
            cached = self._validated = super().validate_authorization_request(request)
        return cached

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().get(request, *args, **kwargs)  # type: ignore[no-any-return]
        except _ConsentFirst:
            # prompt=consent to a trusted service: the consent page, as for any other.
            context = dict(self.oauth2_data)
            context["form"] = self.get_form(self.get_form_class())
            return self.render_to_response(self.get_context_data(**context))

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> Any:
        if request.method == "GET" and getattr(self, "consent_forced", False):
            raise _ConsentFirst
        # The time the password was typed goes with the grant: the ID tokens' auth_time.
        credentials = {
            **credentials,
            "ent_authenticated_at": session_authenticated_at(request.session) or clock.now(),
        }
        # The grant, its audit record and the session index are written together, and only
        # when a code is issued: oauthlib answers some refusals with a redirect, not an error.
        with transaction.atomic():
            result = super().create_authorization_response(request, scopes, credentials, allow)
            location = result[0] or ""
            if "code" in parse_qs(urlsplit(location).query):
                oidc_authorisation_record(
                    request=request, client_id=credentials["client_id"], ip=client_ip(request)
                )
        return result

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
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


# What discovery says that depends on nothing configured.
_DISCOVERY_FIXED: dict[str, Any] = {
    "response_types_supported": ["code"],
    "response_modes_supported": ["query"],
    "grant_types_supported": ["authorization_code", "refresh_token"],
    "subject_types_supported": ["public"],
    "id_token_signing_alg_values_supported": ["RS256"],
    "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    "code_challenge_methods_supported": ["S256"],
    "claims_supported": SUPPORTED_CLAIMS,
    "claims_parameter_supported": False,
    "prompt_values_supported": PROMPT_VALUES,
    "request_parameter_supported": False,
    "request_uri_parameter_supported": False,
}
# Each endpoint of the document and the URL name of its view.
_DISCOVERY_ENDPOINTS = {
    "authorization_endpoint": "authorize",
    "token_endpoint": "token",
    "userinfo_endpoint": "user-info",
    "jwks_uri": "jwks-info",
    "end_session_endpoint": "rp-initiated-logout",
    "revocation_endpoint": "revoke-token",
}


@cache_control(public=True, max_age=3600)
def discovery(request: HttpRequest) -> JsonResponse:
    """``/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0), from BASE_URL."""
    base = str(settings.BASE_URL)
    data = {
        "issuer": base,
        **{
            key: base + reverse(f"oauth2_provider:{name}")
            for key, name in _DISCOVERY_ENDPOINTS.items()
        },
        "scopes_supported": list(oauth2_settings.SCOPES),
        **_DISCOVERY_FIXED,
        "ui_locales_supported": [code for code, _name in settings.LANGUAGES],
        "backchannel_logout_supported": True,
        # RFC 9207 (COMPLIANT_BCP_RFC9700_AUTHZ_RESPONSE_ISS): the code comes with "iss".
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_session_supported": False,
    }
    response = JsonResponse(data)
    response["Access-Control-Allow-Origin"] = "*"
    return response
