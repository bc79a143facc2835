"""The CAS 3.0 endpoints under ``/cas/`` (protocol logic in ``ent.sso.cas``).

``/cas/login`` never shows a password form of its own: a browser without a session goes to the
ENT's ``/login`` page (same throttling, same audit) and comes back. The validation endpoints are
back-channel calls from services: GET, no CSRF token, never cached.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from ent.accounts.models import Account
from ent.core.csp import form_action_allow
from ent.core.net import client_ip

from . import cas
from .models import Service
from .views import session_end

# The message page of each refusal: (title, text, HTTP status).
_REFUSALS = {
    cas.Refusal.UNKNOWN_SERVICE: (
        gettext_lazy("Service inconnu"),
        gettext_lazy(
            "Ce service n'est pas enregistré auprès de l'ENT : aucune connexion ne lui a été"
            " transmise. Si vous pensez qu'il s'agit d'une erreur, contactez l'assistance."
        ),
        403,
    ),
    cas.Refusal.BAD_METHOD: (
        gettext_lazy("Requête incorrecte"),
        gettext_lazy("Ce mode de réponse n'est pas pris en charge (seuls GET et POST le sont)."),
        400,
    ),
}


def _flag(request: HttpRequest, name: str) -> bool:
    """A CAS boolean parameter: set unless absent, empty or "false"."""
    return cas.flag(request.GET.get(name))


def _message(request: HttpRequest, title: str, text: str, status: int) -> HttpResponse:
    return render(request, "sso/cas_message.html", {"title": title, "text": text}, status=status)


@never_cache
@require_GET
def login(request: HttpRequest) -> HttpResponse:
    """``/cas/login``: a service ticket for a signed-in student, or the way to sign in.

    The decision is ``cas.cas_login``'s; this view reads the request and carries it out.
    """
    params = cas.LoginParams.from_query(request.GET)
    user = request.user
    account = user if user.is_authenticated and isinstance(user, Account) else None
    decision = cas.cas_login(
        params,
        signed_in=account is not None,
        service=cas.service_for_url(params.service_url),
        fresh_login=lambda: cas.fresh_login_pop(request, params.service_url),
    )
    if isinstance(decision, cas.IssueTicket):
        assert account is not None
        return _ticket_send(request, account, decision)
    if isinstance(decision, cas.Warn):
        return _warn(request, decision.service)
    if isinstance(decision, cas.Refuse):
        return _refuse(request, account, params.service_url, decision.reason)
    if isinstance(decision, cas.SignIn):
        query = {"next": request.get_full_path()} | ({"renew": "1"} if decision.renew else {})
        return redirect(f"{reverse('sso:login')}?{urlencode(query)}")
    return HttpResponseRedirect(decision.url)


def _ticket_send(request: HttpRequest, account: Account, issue: cas.IssueTicket) -> HttpResponse:
    """Issue the ticket and send it to the service: a redirect, or a form it posts (POST)."""
    ticket = cas.service_ticket_issue(
        account=account,
        service=issue.service,
        service_url=issue.service_url,
        session_id=cas.sso_id(request),
        from_new_login=issue.from_new_login,
        authenticated=cas.authenticated_at(request),
        ip=client_ip(request),
    )
    cas.remember_for_logout(request, ticket=ticket, service=issue.service, url=issue.service_url)
    if issue.post:
        response = render(
            request,
            "sso/cas_post.html",
            {"service": issue.service, "service_url": issue.service_url, "ticket": ticket},
        )
        # The page's form posts the ticket to the (registered) service itself.
        return form_action_allow(response, issue.service_url)
    return HttpResponseRedirect(cas.url_with_ticket(issue.service_url, ticket))


def _warn(request: HttpRequest, service: Service) -> HttpResponse:
    """The page that asks before signing in (``warn``); its link is the request without it."""
    params = request.GET.copy()
    params.pop("warn", None)
    return render(
        request,
        "sso/cas_warn.html",
        {"service": service, "continue_url": f"{reverse('cas:login')}?{params.urlencode()}"},
    )


def _refuse(
    request: HttpRequest, account: Account | None, service_url: str, reason: cas.Refusal
) -> HttpResponse:
    if reason is cas.Refusal.UNKNOWN_SERVICE:
        # A student sent to an unregistered service is worth a row in the audit log.
        cas.unknown_service_report(account=account, service_url=service_url, ip=client_ip(request))
    title, text, status = _REFUSALS[reason]
    return _message(request, str(title), str(text), status)


@never_cache
@require_GET
def logout(request: HttpRequest) -> HttpResponse:
    """``/cas/logout``: end the ENT session; go back only to a registered service."""
    session_end(request)  # user_logged_out → tickets deleted, single logout sent
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
