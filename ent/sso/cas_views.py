"""The CAS 3.0 endpoints under ``/cas/`` (protocol logic in ``ent.sso.cas``).

``/cas/login`` never shows a password form of its own: a browser without a session goes to the
ENT's ``/login`` page (same throttling, same audit) and comes back. The validation endpoints are
back-channel calls from services: GET, no CSRF token, never cached.
"""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlencode, urlsplit

from django.contrib.auth import logout as auth_logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from ent.accounts.models import Account
from ent.core import clock
from ent.core import session_keys as keys
from ent.core.audit import Kind, audit_record
from ent.core.csp import form_action_allow
from ent.core.net import client_ip

from . import cas

logger = logging.getLogger(__name__)

# How long after typing the password /cas/login still counts the ticket as "primary" (renew).
FRESH_LOGIN_SECONDS = 300


def _flag(request: HttpRequest, name: str) -> bool:
    """A CAS boolean parameter: set unless absent, empty or "false"."""
    value = request.GET.get(name)
    return value is not None and value.strip().lower() not in ("", "false", "0")


def _message(request: HttpRequest, title: str, text: str, status: int) -> HttpResponse:
    return render(request, "sso/cas_message.html", {"title": title, "text": text}, status=status)


def mark_fresh_login(request: HttpRequest, next_url: str) -> None:
    """Called by ``/login`` after a password check when it returns to ``/cas/login``."""
    if urlsplit(next_url).path == reverse("cas:login"):
        request.session[keys.CAS_FRESH_LOGIN] = {"next": next_url, "at": clock.now().timestamp()}


def _pop_fresh_login(request: HttpRequest, service_url: str) -> bool:
    """Whether the password was just typed for this very /cas/login request (then forgotten)."""
    fresh = request.session.pop(keys.CAS_FRESH_LOGIN, None)
    if not isinstance(fresh, dict):
        return False
    try:
        age = clock.now().timestamp() - float(fresh["at"])
        query = parse_qs(urlsplit(str(fresh["next"])).query)
    except (KeyError, TypeError, ValueError):
        return False
    return 0 <= age <= FRESH_LOGIN_SECONDS and query.get("service") == [service_url]


@never_cache
@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """``/cas/login``: a service ticket for a signed-in student, or the way to sign in."""
    service_url = request.GET.get("service", "")
    renew = _flag(request, "renew")
    gateway = _flag(request, "gateway") and not renew  # spec 2.1.1: renew wins
    method = request.GET.get("method", "GET").upper()
    user = request.user
    signed_in = user.is_authenticated and isinstance(user, Account)

    if not service_url:
        if signed_in and not renew:
            return redirect("portal:home")  # spec 2.1.5: already signed in
        return redirect(f"{reverse('sso:login')}?{urlencode({'next': request.get_full_path()})}")

    service = cas.service_for_url(service_url)
    if service is None:
        if isinstance(user, Account):  # signed in
            # A student sent to an unregistered service: worth a row in the audit log.
            audit_record(
                kind=Kind.CAS_SERVICE_UNKNOWN,
                student=getattr(user, "student", None),
                actor=user,
                ip=client_ip(request),
                service_url=cas.printable(service_url),
            )
        else:
            # Anyone can send these: a log line only, or the audit table could be flooded.
            logger.warning(
                "CAS login for an unknown service from %s: %s",
                client_ip(request),
                cas.printable(service_url),
            )
        return _message(
            request,
            _("Service inconnu"),
            _(
                "Ce service n'est pas enregistré auprès de l'ENT : aucune connexion ne lui a été"
                " transmise. Si vous pensez qu'il s'agit d'une erreur, contactez l'assistance."
            ),
            403,
        )
    if method not in ("GET", "POST"):
        return _message(
            request,
            _("Requête incorrecte"),
            _("Ce mode de réponse n'est pas pris en charge (seuls GET et POST le sont)."),
            400,
        )

    fresh = _pop_fresh_login(request, service_url) if signed_in else False
    if signed_in and (fresh or not renew):
        assert isinstance(user, Account)
        if _flag(request, "warn") and not fresh:
            # Spec 2.2.1: with "warn", single sign-on must not be transparent: ask first.
            params = request.GET.copy()
            params.pop("warn", None)
            return render(
                request,
                "sso/cas_warn.html",
                {
                    "service": service,
                    "continue_url": f"{reverse('cas:login')}?{params.urlencode()}",
                },
            )
        ticket = cas.service_ticket_issue(
            account=user,
            service=service,
            service_url=service_url,
            session_id=cas.sso_id(request),
            from_new_login=fresh,
            authenticated=cas.authenticated_at(request),
            ip=client_ip(request),
        )
        cas.remember_for_logout(request, ticket=ticket, service=service, url=service_url)
        if method == "POST":
            response = render(
                request,
                "sso/cas_post.html",
                {"service": service, "service_url": service_url, "ticket": ticket},
            )
            # The page's form posts the ticket to the (registered) service itself.
            return form_action_allow(response, service_url)
        return HttpResponseRedirect(cas.url_with_ticket(service_url, ticket))

    if gateway and not signed_in:
        return HttpResponseRedirect(service_url)  # spec 2.1.1: back without a ticket
    query = {"next": request.get_full_path()}
    if renew:
        query["renew"] = "1"
    return redirect(f"{reverse('sso:login')}?{urlencode(query)}")


@never_cache
@require_GET
def logout(request: HttpRequest) -> HttpResponse:
    """``/cas/logout``: end the ENT session; go back only to a registered service."""
    if request.user.is_authenticated:
        audit_record(
            kind=Kind.LOGOUT,
            student=getattr(request.user, "student", None),
            actor=request.user,  # type: ignore[arg-type]
            ip=client_ip(request),
        )
    auth_logout(request)  # user_logged_out → tickets deleted, single logout sent
    service_url = request.GET.get("service", "")
    if service_url and cas.service_for_url(service_url) is not None:
        return HttpResponseRedirect(service_url)
    return _message(
        request,
        _("Vous êtes déconnecté"),
        _(
            "Votre session ENT est terminée, ainsi que celles des services ouverts avec elle."
            " Fermez le navigateur si vous utilisez un ordinateur partagé."
        ),
        200,
    )


def _xml_response(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="application/xml; charset=utf-8")


def _json_response(body: str) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def _validate(request: HttpRequest, *, allow_proxy_tickets: bool) -> HttpResponse:
    fmt = request.GET.get("format", "XML").upper()
    if fmt not in ("XML", "JSON"):
        # Spec 2.5.1: an unsupported format gets an error code (in the default format).
        return _xml_response(
            cas.render_xml(
                cas.Validation(code=cas.ErrorCode.INVALID_REQUEST, description="Unsupported format")
            )
        )
    result = cas.ticket_validate(
        ticket=request.GET.get("ticket", ""),
        service_url=request.GET.get("service", ""),
        renew=_flag(request, "renew"),
        pgt_url=request.GET.get("pgtUrl", ""),
        allow_proxy_tickets=allow_proxy_tickets,
        ip=client_ip(request),
    )
    if fmt == "JSON":
        return _json_response(cas.render_json(result))
    return _xml_response(cas.render_xml(result))


@csrf_exempt
@never_cache
@require_GET
def service_validate(request: HttpRequest) -> HttpResponse:
    """``/cas/serviceValidate`` and ``/cas/p3/serviceValidate``: service tickets only."""
    return _validate(request, allow_proxy_tickets=False)


@csrf_exempt
@never_cache
@require_GET
def proxy_validate(request: HttpRequest) -> HttpResponse:
    """``/cas/proxyValidate`` and ``/cas/p3/proxyValidate``: service and proxy tickets."""
    return _validate(request, allow_proxy_tickets=True)


@csrf_exempt
@never_cache
@require_GET
def validate(request: HttpRequest) -> HttpResponse:
    """``/cas/validate`` (CAS 1.0): ``yes\\n<user>\\n`` or ``no\\n\\n``; no proxy tickets."""
    result = cas.ticket_validate(
        ticket=request.GET.get("ticket", ""),
        service_url=request.GET.get("service", ""),
        renew=_flag(request, "renew"),
        pgt_url="",
        allow_proxy_tickets=False,
        ip=client_ip(request),
    )
    body = f"yes\n{result.user}\n" if result.ok else "no\n\n"
    return HttpResponse(body, content_type="text/plain; charset=utf-8")


@csrf_exempt
@never_cache
@require_GET
def proxy(request: HttpRequest) -> HttpResponse:
    """``/cas/proxy``: a proxy ticket for ``targetService`` in exchange for a PGT."""
    result = cas.proxy_ticket_issue(
        pgt=request.GET.get("pgt", ""),
        target_service=request.GET.get("targetService", ""),
        ip=client_ip(request),
    )
    if request.GET.get("format", "XML").upper() == "JSON":
        return _json_response(cas.render_proxy_json(result))
    return _xml_response(cas.render_proxy_xml(result))
