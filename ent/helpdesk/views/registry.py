"""The service registry (administrators): CAS services and OIDC clients, their secrets."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from ent.core import clock
from ent.core import session_keys as keys
from ent.core.forms import posted
from ent.core.models import AuditEvent
from ent.core.net import client_ip
from ent.sso import registry
from ent.sso.models import Service

from ..forms import ServiceForm
from ..roles import Role, staff_required
from ._common import _actor


def _form_errors_from(form: ServiceForm, exc: ValidationError) -> None:
    """Attach a ``ValidationError`` of the registry to the form, field by field."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for field, messages_ in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, messages_)


def _secret_handover(request: HttpRequest, service: Service, secret: str | None) -> HttpResponse:
    """To the page that shows a new secret once, or back to the entry when there is none.

    The secret waits in the session only until that page pops it, one redirect later: never
    in a URL, a message, a log or the audit record.
    """
    if secret is None:
        return redirect("helpdesk:service", pk=service.pk)
    request.session[keys.REGISTRY_NEW_SECRET] = {
        "service": service.pk,
        "secret": secret,
        "at": clock.now().timestamp(),
    }
    return redirect("helpdesk:service-secret", pk=service.pk)


# Changes of the entry, not the sign-ins of students (which name the service too).
REGISTRY_HISTORY = [
    AuditEvent.Kind.REGISTRY_CREATED,
    AuditEvent.Kind.REGISTRY_UPDATED,
    AuditEvent.Kind.REGISTRY_ENABLED,
    AuditEvent.Kind.REGISTRY_DISABLED,
    AuditEvent.Kind.REGISTRY_SECRET_ROTATED,
    AuditEvent.Kind.OIDC_CLIENT_CREATED,
    AuditEvent.Kind.OIDC_CLIENT_UPDATED,
    AuditEvent.Kind.OIDC_CLIENT_REMOVED,
    AuditEvent.Kind.OIDC_SECRET_ROTATED,
]
# The redirect is followed at once; a secret not shown by then is dropped, never shown later.
SECRET_HANDOVER_SECONDS = 120


def _secret_drop(request: HttpRequest) -> None:
    # Any other registry page forgets a secret that was not shown (a lost redirect).
    request.session.pop(keys.REGISTRY_NEW_SECRET, None)


@staff_required(Role.ADMINISTRATOR)
def services_list(request: HttpRequest) -> HttpResponse:
    """Every registry entry: protocol, state, tile, order, how many attributes it receives."""
    _secret_drop(request)
    return render(
        request,
        "helpdesk/services.html",
        {"services": Service.objects.order_by("order", "name"), "nav": "services"},
    )


def _service_save(request: HttpRequest, form: ServiceForm, done: str) -> HttpResponse | None:
    """Save a valid form, confirm with ``done``; ``None`` when the registry refused it."""
    try:
        secret = registry.service_save(
            service=form.instance, actor=_actor(request), ip=client_ip(request)
        )
    except ValidationError as exc:
        _form_errors_from(form, exc)
        return None
    messages.success(request, done)
    return _secret_handover(request, form.instance, secret)


@staff_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def service_new(request: HttpRequest) -> HttpResponse:
    """Register a service; an OIDC client's secret is shown once on the next page."""
    form = ServiceForm(posted(request))
    if request.method == "POST" and form.is_valid():
        done = _("Le service %(n)s est enregistré.") % {"n": form.instance.name}
        response = _service_save(request, form, done)
        if response is not None:
            return response
    return render(
        request, "helpdesk/service_form.html", {"form": form, "service": None, "nav": "services"}
    )


def _service_page(request: HttpRequest, form: ServiceForm, pk: int) -> HttpResponse:
    # The form may have changed the instance in memory: the side panel shows the saved row.
    saved = Service.objects.select_related("oidc_client").get(pk=pk)
    return render(
        request,
        "helpdesk/service_form.html",
        {
            "form": form,
            "service": saved,
            "client": getattr(saved, "oidc_client", None)
            if saved.protocol == Service.Protocol.OIDC
            else None,
            "events": AuditEvent.objects.filter(
                data__service=saved.slug, kind__in=REGISTRY_HISTORY
            ).select_related("actor")[:20],
            "nav": "services",
        },
    )


@staff_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def service_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """One entry: its form, enable/disable, the OIDC secret, deletion, its history."""
    _secret_drop(request)
    service = get_object_or_404(Service, pk=pk)
    form = ServiceForm(posted(request), instance=service)
    if request.method == "POST" and form.is_valid():
        response = _service_save(request, form, _("Les modifications sont enregistrées."))
        if response is not None:
            return response
    return _service_page(request, form, pk)


@staff_required(Role.ADMINISTRATOR)
def service_secret(request: HttpRequest, pk: int) -> HttpResponse:
    """The new client secret, once: popped from the session, the page is never cached."""
    service = get_object_or_404(Service, pk=pk)
    pending = request.session.pop(keys.REGISTRY_NEW_SECRET, None)
    secret = None
    if (
        isinstance(pending, dict)
        and pending.get("service") == service.pk
        and clock.now().timestamp() - float(pending.get("at", 0)) <= SECRET_HANDOVER_SECONDS
    ):
        secret = pending.get("secret")
    response = render(
        request,
        "helpdesk/service_secret.html",
        {"service": service, "secret": secret, "nav": "services"},
    )
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, private, max-age=0"
    response["Referrer-Policy"] = "no-referrer"
    return response


@staff_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def service_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Deletion, after a confirmation page (GET shows it, POST deletes)."""
    service = get_object_or_404(Service, pk=pk)
    if request.method == "POST":
        registry.service_delete(service=service, actor=_actor(request), ip=client_ip(request))
        messages.success(request, _("Le service %(n)s est supprimé.") % {"n": service.name})
        return redirect("helpdesk:services")
    return render(request, "helpdesk/service_delete.html", {"service": service, "nav": "services"})


@require_POST
@staff_required(Role.ADMINISTRATOR)
def service_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Enable, disable, or regenerate the client secret (POST)."""
    service = get_object_or_404(Service, pk=pk)
    actor, ip = _actor(request), client_ip(request)
    if action in ("enable", "disable"):
        registry.service_enabled_set(
            service=service, enabled=action == "enable", actor=actor, ip=ip
        )
        messages.success(
            request,
            _("Le service est activé.") if action == "enable" else _("Le service est désactivé."),
        )
        return redirect("helpdesk:service", pk=pk)
    if action == "rotate-secret":
        try:
            secret = registry.service_secret_rotate(service=service, actor=actor, ip=ip)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
            return redirect("helpdesk:service", pk=pk)
        return _secret_handover(request, service, secret)
    raise Http404
