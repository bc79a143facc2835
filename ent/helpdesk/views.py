"""Help-desk pages. Thin: parse with a form, call one service, render.

Every page but the sign-in ones is wrapped in ``staff_required`` (``roles.py``): a staff
session verified with TOTP, with the role the page needs. Every change is a POST (CSRF),
audited by its service with the staff actor and the address, and confirmed with a message.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login as auth_login
from django.core.exceptions import ValidationError
from django.core.paginator import Page, Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_otp import login as otp_login

from ent.accounts import update_request as ur
from ent.accounts.backends import PATH as BACKEND
from ent.accounts.models import Account, UpdateRequest
from ent.accounts.sessions import sessions_active
from ent.core import clock, throttle
from ent.core import session_keys as keys
from ent.core.forms import posted
from ent.core.mail import mail_queue_stats
from ent.core.messages import retry_message
from ent.core.models import AuditEvent, OneTimeCode
from ent.core.net import client_ip
from ent.directory.models import Student
from ent.sso import registry
from ent.sso.models import Service

from . import auth, selectors, services
from .forms import (
    DecisionForm,
    RequestFilterForm,
    RoleForm,
    SearchForm,
    ServiceForm,
    StaffCreateForm,
    StaffLoginForm,
    StaffPasswordForm,
    TotpForm,
)
from .roles import ROLE_LABELS, Role, role_of, staff_required

# Between the password and the TOTP code: long enough to open the application, no more.
PENDING_FOR = timedelta(minutes=10)
PER_PAGE = 25


def _actor(request: HttpRequest) -> Account:
    assert isinstance(request.user, Account)
    return request.user


def _page(request: HttpRequest, items: Any, per_page: int = PER_PAGE) -> Page[Any]:
    return Paginator(items, per_page).get_page(request.GET.get("page"))


# --- Sign-in -------------------------------------------------------------------------------------


def _pending_staff(request: HttpRequest) -> Account | None:
    pk = request.session.get(keys.HELPDESK_PENDING_STAFF)
    at = float(request.session.get(keys.HELPDESK_PENDING_AT, 0))
    if pk is None or clock.now().timestamp() - at > PENDING_FOR.total_seconds():
        return None
    account = Account.objects.filter(pk=pk, kind=Account.Kind.STAFF).first()
    return account if account is not None and account.is_active else None


def _open_session(request: HttpRequest, account: Account, device: Any) -> HttpResponse:
    request.session.pop(keys.HELPDESK_PENDING_STAFF, None)
    request.session.pop(keys.HELPDESK_PENDING_AT, None)
    auth_login(request, account, backend=BACKEND)  # new session id
    otp_login(request, device)
    return redirect("helpdesk:dashboard")


@never_cache
@require_http_methods(["GET", "POST"])
def login(request: HttpRequest) -> HttpResponse:
    """``/helpdesk/login``: username and password (then the TOTP code)."""
    form = StaffLoginForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = auth.staff_password_check(
            username=form.cleaned_data["username"],
            password=form.cleaned_data["password"],
            ip=client_ip(request),
        )
        if result.status is auth.StaffLoginStatus.OK and result.account is not None:
            request.session.cycle_key()
            request.session[keys.HELPDESK_PENDING_STAFF] = result.account.pk
            request.session[keys.HELPDESK_PENDING_AT] = clock.now().timestamp()
            if auth.confirmed_device(result.account) is None:
                return redirect("helpdesk:enrol")
            return redirect("helpdesk:totp")
        if result.status is auth.StaffLoginStatus.THROTTLED and result.retry_at is not None:
            form.add_error(None, retry_message(result.retry_at))
        else:
            message = _("Identifiant ou mot de passe incorrect.")
            if result.retry_at is not None:
                message += " " + retry_message(result.retry_at)
            form.add_error(None, message)
    return render(request, "helpdesk/login.html", {"form": form})


def _totp_error(form: TotpForm, result: auth.TotpResult) -> None:
    if result.throttled and result.retry_at is not None:
        form.add_error(None, retry_message(result.retry_at))
        return
    message = _("Code incorrect ou déjà utilisé. Attendez le code suivant de l'application.")
    if result.retry_at is not None:
        message += " " + retry_message(result.retry_at)
    form.add_error("code", message)


@never_cache
@require_http_methods(["GET", "POST"])
def totp(request: HttpRequest) -> HttpResponse:
    """Step 2: the code of the authenticator application."""
    account = _pending_staff(request)
    if account is None:
        return redirect("helpdesk:login")
    if auth.confirmed_device(account) is None:
        return redirect("helpdesk:enrol")
    form = TotpForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = auth.staff_totp_check(
            account=account, code=form.cleaned_data["code"], ip=client_ip(request)
        )
        if result.device is not None:
            return _open_session(request, account, result.device)
        _totp_error(form, result)
    return render(request, "helpdesk/totp.html", {"form": form})


@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in (or after a reset): scan the QR code, confirm with a first code."""
    account = _pending_staff(request)
    if account is None:
        return redirect("helpdesk:login")
    if auth.confirmed_device(account) is not None:
        return redirect("helpdesk:totp")
    device = auth.staff_totp_device(account)
    form = TotpForm(posted(request))
    if request.method == "POST" and form.is_valid():
        result = auth.staff_totp_confirm(
            account=account, code=form.cleaned_data["code"], ip=client_ip(request)
        )
        if result.device is not None:
            messages.success(request, _("Votre application d'authentification est enregistrée."))
            return _open_session(request, account, result.device)
        _totp_error(form, result)
    return render(
        request,
        "helpdesk/enrol.html",
        {
            "form": form,
            "qr_svg": auth.totp_qr_svg(
                device, title=_("QR code à scanner avec l'application d'authentification")
            ),
            "secret": auth.totp_secret(device),
            "issuer": settings.OTP_TOTP_ISSUER,
            "account_name": account.username,
        },
    )


@never_cache
@require_http_methods(["GET", "POST"])
def invite(request: HttpRequest) -> HttpResponse:
    """The mailed link of a new staff member: choose a password.

    As for activation, the code leaves the address bar (into the session) before the form shows.
    """
    if request.method == "GET" and "code" in request.GET:
        request.session[keys.HELPDESK_INVITE_CODE] = request.GET["code"][:64]
        response = redirect("helpdesk:invite")
        response["Referrer-Policy"] = "no-referrer"
        return response
    code = request.session.get(keys.HELPDESK_INVITE_CODE, "")
    ip = client_ip(request)
    try:
        account = services.staff_invite_account(code, ip=ip) if code else None
    except services.InviteThrottledError:
        return render(request, "helpdesk/invite.html", {"throttled": True}, status=429)
    if account is None:
        return render(request, "helpdesk/invite.html", {"invalid": True}, status=400)
    form = StaffPasswordForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            done = services.staff_password_set(
                code=code, password=form.cleaned_data["password1"], ip=ip
            )
        except services.InviteThrottledError:
            return render(request, "helpdesk/invite.html", {"throttled": True}, status=429)
        except services.ActionError as exc:
            form.add_error("password1", exc.message)
        else:
            request.session.pop(keys.HELPDESK_INVITE_CODE, None)
            if done is None:
                return render(request, "helpdesk/invite.html", {"invalid": True}, status=400)
            messages.success(
                request,
                _(
                    "Votre mot de passe est enregistré. Connectez-vous pour enregistrer votre application d'authentification."
                ),
            )
            return redirect("helpdesk:login")
    return render(request, "helpdesk/invite.html", {"form": form, "username": account.username})


# --- Dashboard and search -----------------------------------------------------------------------


@staff_required(Role.AGENT)
def dashboard(request: HttpRequest) -> HttpResponse:
    """Accounts per state, activations per day (chart + table), queue and mail failures."""
    days = selectors.activations_per_day()
    return render(
        request,
        "helpdesk/dashboard.html",
        {
            "states": selectors.accounts_per_state(),
            "days": days,
            "chart": selectors.bar_chart(days),
            "chart_narrow": selectors.bar_chart(days, width=340, height=220),
            "activations_total": sum(d.count for d in days),
            "open_requests": selectors.open_requests().count(),
            "mail_failures": selectors.failed_mails(),
            "mail_failures_week": selectors.mail_failures_since(7),
            "mail_retrying": selectors.retrying_mails(),
            "mail_queue": mail_queue_stats(),
            "search_form": SearchForm(),
            "nav": "dashboard",
        },
    )


@staff_required(Role.AGENT)
@require_POST
def mail_retry(request: HttpRequest, pk: int) -> HttpResponse:
    """The dashboard's "Renvoyer" button of a mail that failed for good (agents too)."""
    _run(
        request,
        lambda: services.mail_retry(delivery_id=pk, actor=_actor(request), ip=client_ip(request)),
        _("Le mail est de nouveau dans la file d'envoi."),
    )
    return redirect("helpdesk:dashboard")


@staff_required(Role.AGENT)
def search(request: HttpRequest) -> HttpResponse:
    """Students by number, name, INE or address; paginated."""
    form = SearchForm(request.GET or None)
    page = None
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        page = _page(request, selectors.students_search(query)) if query else None
    return render(
        request,
        "helpdesk/search.html",
        {"form": form, "page": page, "page_extra": "&" + urlencode({"q": query}), "nav": "search"},
    )


# --- One student's account ---------------------------------------------------------------------


@staff_required(Role.AGENT)
def student(request: HttpRequest, pk: int) -> HttpResponse:
    """Directory data, account state, sessions, pending codes, requests and audit history."""
    record = get_object_or_404(Student.objects.select_related("account"), pk=pk)
    account: Account | None = getattr(record, "account", None)
    return render(
        request,
        "helpdesk/student.html",
        {
            "student": record,
            "account": account,
            "sessions": sessions_active(account) if account is not None else [],
            "codes": _codes(account),
            "forwarding": _forwarding(record, account),
            "sign_in_blocks": selectors.sign_in_blocks(record) if account is not None else [],
            "requests": record.update_requests.all()[:20],
            "events": _page(
                request, AuditEvent.objects.filter(student=record).select_related("actor")
            ),
            "is_admin": role_of(request.user) == Role.ADMINISTRATOR,
            "nav": "search",
        },
    )


def _forwarding(record: Student, account: Account | None) -> dict[str, Any]:
    """The mailbox's forwarding rule, read-only (issue 5): where a thief would send the mail."""
    from ent.webmail.backends import MailStoreError, mail_store

    if account is None or account.state == Account.State.PENDING:
        return {"known": False, "rule": None}
    try:
        return {"known": True, "rule": mail_store().forwarding(record.institutional_email)}
    except MailStoreError:
        return {"known": False, "rule": None, "unavailable": True}


def _codes(account: Account | None) -> list[dict[str, Any]]:
    if account is None:
        return []
    return [
        {
            "label": _code_label(code.purpose),
            "created_at": code.created_at,
            "expires_at": code.expires_at,
            "email": code.email,
        }
        for code in selectors.pending_codes(account)
    ]


def _code_label(purpose: str) -> str:
    try:
        return str(OneTimeCode.Purpose(purpose).label)
    except ValueError:
        return purpose


def _run(request: HttpRequest, action: Callable[[], Any], done: str) -> None:
    try:
        action()
    except services.ActionError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)


STUDENT_ACTIONS: dict[str, tuple[Role, Callable[..., Any], Any]] = {
    "resend-activation": (
        Role.AGENT,
        services.account_activation_resend,
        _("Un nouveau lien d'activation a été envoyé à l'adresse donnée par l'étudiant."),
    ),
    "send-reset": (
        Role.AGENT,
        services.account_reset_send,
        _("Un lien de réinitialisation a été envoyé à l'adresse personnelle vérifiée."),
    ),
    "lock": (Role.AGENT, services.account_lock, _("Le compte est bloqué et ses sessions fermées.")),
    "unlock": (Role.AGENT, services.account_unlock, _("Le compte est débloqué.")),
    "end-sessions": (
        Role.AGENT,
        services.account_sessions_end,
        _("Les sessions du compte sont fermées."),
    ),
    "disable": (Role.ADMINISTRATOR, services.account_disable, _("Le compte est désactivé.")),
}


@require_POST
@staff_required(Role.AGENT)
def student_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """One button of the account page (POST); administrator-only ones checked here too."""
    if action not in STUDENT_ACTIONS:
        raise Http404
    role, function, done = STUDENT_ACTIONS[action]
    if role == Role.ADMINISTRATOR:
        return _admin_student_action(request, pk, function, str(done))
    account = get_object_or_404(Account.objects.select_related("student"), student_id=pk)
    _run(
        request,
        lambda: function(account=account, actor=_actor(request), ip=client_ip(request)),
        str(done),
    )
    return redirect("helpdesk:student", pk=pk)


@require_POST
@staff_required(Role.AGENT)
def student_unblock(request: HttpRequest, pk: int) -> HttpResponse:
    """Lift the sign-in throttling of the untrusted clients, or of one device (``device``)."""
    account = get_object_or_404(Account.objects.select_related("student"), student_id=pk)
    device = request.POST.get("device", "").strip()[:64] or None
    _run(
        request,
        lambda: services.account_sign_in_unblock(
            account=account, device=device, actor=_actor(request), ip=client_ip(request)
        ),
        _("Le blocage des connexions est levé.")
        if device is None
        else _("Le blocage de cet appareil est levé."),
    )
    return redirect("helpdesk:student", pk=pk)


@staff_required(Role.ADMINISTRATOR)
def _admin_student_action(
    request: HttpRequest, pk: int, function: Callable[..., Any], done: str
) -> HttpResponse:
    account = get_object_or_404(Account.objects.select_related("student"), student_id=pk)
    _run(
        request,
        lambda: function(account=account, actor=_actor(request), ip=client_ip(request)),
        done,
    )
    return redirect("helpdesk:student", pk=pk)


# --- Update requests -----------------------------------------------------------------------------


@staff_required(Role.AGENT)
def requests(request: HttpRequest) -> HttpResponse:
    """The queue, filtered by status (open ones by default) and kind."""
    form = RequestFilterForm(request.GET or None)
    status, kind = "open", ""
    if form.is_valid():
        status = form.cleaned_data["status"] or "open"
        kind = form.cleaned_data["kind"]
    qs = UpdateRequest.objects.select_related("student", "assigned_to").order_by("created_at", "pk")
    if status == "open":
        qs = qs.filter(status__in=[UpdateRequest.Status.NEW, UpdateRequest.Status.IN_PROGRESS])
    elif status != "all":
        qs = qs.filter(status=status).order_by("-updated_at", "-pk")
    if kind:
        qs = qs.filter(kind=kind)
    return render(
        request,
        "helpdesk/requests.html",
        {
            "form": form,
            "page": _page(request, qs),
            "page_extra": "&" + urlencode({"status": status, "kind": kind}),
            "nav": "requests",
        },
    )


@staff_required(Role.AGENT)
def request_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One request, with take / approve / reject."""
    item = get_object_or_404(
        UpdateRequest.objects.select_related("student", "student__account", "assigned_to"), pk=pk
    )
    return render(
        request, "helpdesk/request.html", {"item": item, "form": DecisionForm(), "nav": "requests"}
    )


@require_POST
@staff_required(Role.AGENT)
def request_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Take, approve or reject (POST)."""
    item = get_object_or_404(UpdateRequest, pk=pk)
    actor, ip = _actor(request), client_ip(request)
    form = DecisionForm(request.POST)
    valid = form.is_valid()
    reason = form.cleaned_data["reason"].strip() if valid else ""
    identity_checked = bool(valid and form.cleaned_data["identity_checked"])
    lost_email_unchecked = (
        action == "approve"
        and item.kind == UpdateRequest.Kind.LOST_EMAIL
        and item.is_open
        and not identity_checked
    )
    # A refused reason (too long, NUL character) was taken as no reason at all: the request
    # was approved without the text the agent typed. Show the error and decide nothing.
    if (action in ("approve", "reject") and not valid) or lost_email_unchecked:
        if lost_email_unchecked:
            form.add_error(
                "identity_checked",
                _("Vérifiez l'identité de l'étudiant et cochez la case avant d'accepter."),
            )
        item = get_object_or_404(
            UpdateRequest.objects.select_related("student", "student__account", "assigned_to"),
            pk=pk,
        )
        return render(
            request,
            "helpdesk/request.html",
            {"item": item, "form": form, "nav": "requests"},
            status=400,
        )
    try:
        if action == "take":
            ur.update_request_take(request=item, actor=actor, ip=ip)
            messages.success(
                request, _("Vous avez pris en charge la demande %(r)s.") % {"r": item.reference}
            )
        elif action == "approve":
            ur.update_request_approve(
                request=item,
                reason=reason,
                actor=actor,
                ip=ip,
                identity_checked=identity_checked,
            )
            messages.success(
                request,
                _("Demande %(r)s acceptée ; l'étudiant est prévenu.") % {"r": item.reference},
            )
        elif action == "reject":
            ur.update_request_reject(request=item, reason=reason, actor=actor, ip=ip)
            messages.success(
                request,
                _("Demande %(r)s refusée ; l'étudiant est prévenu.") % {"r": item.reference},
            )
        else:
            raise Http404
    except ur.DecisionError as exc:
        messages.error(request, exc.message)
    return redirect("helpdesk:request", pk=pk)


# --- Staff (administrators) ----------------------------------------------------------------------


@staff_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def staff(request: HttpRequest) -> HttpResponse:
    """Staff accounts, and the form to invite a new one."""
    form = StaffCreateForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            created = services.staff_create(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                role=Role(form.cleaned_data["role"]),
                actor=_actor(request),
                ip=client_ip(request),
            )
        except services.ActionError as exc:
            form.add_error("username", exc.message)
        else:
            messages.success(
                request,
                _("Compte %(u)s créé ; un lien pour choisir son mot de passe lui a été envoyé.")
                % {"u": created.username},
            )
            return redirect("helpdesk:staff-member", pk=created.pk)
    members = [
        (m, _role_label(m))
        for m in Account.objects.filter(kind=Account.Kind.STAFF).order_by("username")
    ]
    return render(
        request, "helpdesk/staff.html", {"form": form, "members": members, "nav": "staff"}
    )


def _role_label(account: Account) -> str | None:
    role = role_of(account)
    return str(ROLE_LABELS[role]) if role is not None else None


@staff_required(Role.ADMINISTRATOR)
def staff_member(request: HttpRequest, pk: int) -> HttpResponse:
    """One staff account: role, second factor, deactivation."""
    member = get_object_or_404(Account, pk=pk, kind=Account.Kind.STAFF)
    role = role_of(member)
    return render(
        request,
        "helpdesk/staff_member.html",
        {
            "member": member,
            "role_label": _role_label(member),
            "role_form": RoleForm(initial={"role": (role or Role.AGENT).value}),
            "has_device": auth.confirmed_device(member) is not None,
            "has_password": member.has_usable_password(),
            "is_self": member.pk == request.user.pk,
            "events": AuditEvent.objects.filter(data__target=member.username)[:20],
            "nav": "staff",
        },
    )


@require_POST
@staff_required(Role.ADMINISTRATOR)
def staff_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Change role, deactivate, reset the TOTP device, resend the invitation (POST)."""
    member = get_object_or_404(Account, pk=pk, kind=Account.Kind.STAFF)
    actor, ip = _actor(request), client_ip(request)
    if action == "role":
        form = RoleForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Choisissez un rôle."))
        else:
            _run(
                request,
                lambda: services.staff_role_set(
                    account=member, role=Role(form.cleaned_data["role"]), actor=actor, ip=ip
                ),
                _("Le rôle est modifié."),
            )
    elif action == "deactivate":
        _run(
            request,
            lambda: services.staff_deactivate(account=member, actor=actor, ip=ip),
            _("Le compte est désactivé et ses sessions fermées."),
        )
    elif action == "reset-totp":
        _run(
            request,
            lambda: services.staff_totp_reset(account=member, actor=actor, ip=ip),
            _(
                "Le second facteur est réinitialisé : la personne en enregistrera un nouveau à sa prochaine connexion."
            ),
        )
    elif action == "resend-invite":
        _run(
            request,
            lambda: services.staff_invite_resend(account=member, actor=actor, ip=ip),
            _("Une nouvelle invitation a été envoyée."),
        )
    else:
        raise Http404
    return redirect("helpdesk:staff-member", pk=pk)


# Never shown, whatever their value: secrets and credentials.
HIDDEN_SETTINGS = {"SECRET_KEY", "EMAIL_HOST_PASSWORD", "DATABASES", "SMTP_URL"}
SHOWN_SETTINGS = [
    "BASE_URL",
    "DEMO",
    "DEBUG",
    "UNIVERSITY_NAME",
    "UNIVERSITY_SHORT_NAME",
    "STUDENT_MAIL_DOMAIN",
    "MAIL_FROM",
    "MAIL_MAX_ATTEMPTS",
    "MAIL_RETRY_BASE_SECONDS",
    "MAIL_RETRY_MAX_SECONDS",
    "MAIL_SENDING_LEASE_SECONDS",
    "HELPDESK_EMAIL",
    "CHARTER_VERSION",
    "EPPN_SCOPE",
    "PASSWORD_MIN_LENGTH",
    "PASSWORD_MAX_LENGTH",
    "PASSWORD_MIN_CLASSES",
    "PASSWORD_SPECIALS",
    "ARGON2_MEMORY_COST",
    "ARGON2_TIME_COST",
    "ARGON2_PARALLELISM",
    "ACTIVATION_CODE_HOURS",
    "ACTIVATION_RESEND_PER_HOUR",
    "THROTTLE_FREE_FAILURES",
    "THROTTLE_BASE_DELAY",
    "THROTTLE_MAX_DELAY",
    "THROTTLE_MAX_FAILURES_PER_DAY",
    "THROTTLE_IP_FAILURES_PER_HOUR",
    "TRUSTED_PROXIES",
    "ALLOWED_HOSTS",
    "SESSION_COOKIE_AGE",
    "TIME_ZONE",
    "EMAIL_BACKEND",
    "EMAIL_HOST",
    "EMAIL_PORT",
    "STAFF_INVITE_HOURS",
    "AUDIT_RETENTION_MONTHS",
    "PURGE_ABSENT_DAYS",
    "PASSWORD_RESET_CODE_MINUTES",
    "PASSWORD_RESET_PER_HOUR",
    "EMAIL_CHANGE_CODE_HOURS",
]


@staff_required(Role.ADMINISTRATOR)
def settings_page(request: HttpRequest) -> HttpResponse:
    """The effective settings, read-only (never a secret key, a password or a private key)."""
    rows = []
    for name in SHOWN_SETTINGS:
        if name in HIDDEN_SETTINGS or not hasattr(settings, name):
            continue
        rows.append((name, getattr(settings, name)))
    db = settings.DATABASES["default"]
    rows.append(("DATABASE_ENGINE", db["ENGINE"].rsplit(".", 1)[-1]))
    return render(
        request,
        "helpdesk/settings.html",
        {"rows": rows, "nav": "settings", "limits": throttle.limits()},
    )


# --- Service registry (administrators) -----------------------------------------------------------


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


@staff_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def service_new(request: HttpRequest) -> HttpResponse:
    """Register a service; an OIDC client's secret is shown once on the next page."""
    form = ServiceForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            secret = registry.service_save(
                service=form.instance, actor=_actor(request), ip=client_ip(request)
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(
                request, _("Le service %(n)s est enregistré.") % {"n": form.instance.name}
            )
            return _secret_handover(request, form.instance, secret)
    return render(
        request, "helpdesk/service_form.html", {"form": form, "service": None, "nav": "services"}
    )


@staff_required(Role.ADMINISTRATOR)
@require_http_methods(["GET", "POST"])
def service_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """One entry: its form, enable/disable, the OIDC secret, deletion, its history."""
    _secret_drop(request)
    service = get_object_or_404(Service, pk=pk)
    form = ServiceForm(posted(request), instance=service)
    if request.method == "POST" and form.is_valid():
        try:
            secret = registry.service_save(
                service=form.instance, actor=_actor(request), ip=client_ip(request)
            )
        except ValidationError as exc:
            _form_errors_from(form, exc)
        else:
            messages.success(request, _("Les modifications sont enregistrées."))
            return _secret_handover(request, form.instance, secret)
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
