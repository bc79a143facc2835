"""Models shared by every application: audit log, throttling counters, mailed codes, outbox."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class AuditEvent(models.Model):
    """One account change or authentication event: who, what, when, from where.

    Written in the same transaction as the change it records. ``data`` never holds a code or a
    password: only identifiers and reasons.
    """

    class Kind(models.TextChoices):
        IMPORT_RUN = "import.run", _("Import des étudiants")
        IMPORT_UPDATED = "import.updated", _("Étudiant mis à jour par l'import")
        ACTIVATION_IDENTIFY_OK = "activation.identify.ok", _("Activation : identification réussie")
        ACTIVATION_IDENTIFY_FAILED = (
            "activation.identify.failed",
            _("Activation : identification refusée"),
        )
        ACTIVATION_STARTED = "activation.started", _("Activation : lien envoyé")
        ACTIVATION_RESENT = "activation.resent", _("Activation : lien renvoyé")
        ACTIVATION_CONFIRMED = "activation.confirmed", _("Compte activé")
        ACTIVATION_CODE_REJECTED = "activation.code_rejected", _("Activation : lien refusé")
        LOGIN_OK = "login.ok", _("Connexion réussie")
        LOGIN_FAILED = "login.failed", _("Connexion refusée")
        LOGIN_THROTTLED = "login.throttled", _("Connexion bloquée (trop d'essais)")
        LOGIN_INE_TO_ACTIVATION = (
            "login.ine_activation",
            _("Connexion avec l'INE : vers l'activation"),
        )
        LOGOUT = "logout", _("Déconnexion")
        # Self-service (password reset, password change, personal address change).
        PASSWORD_RESET_REQUESTED = (
            "password.reset_requested",
            _("Mot de passe oublié : lien demandé"),
        )
        PASSWORD_RESET_CODE_REJECTED = (
            "password.reset_code_rejected",
            _("Mot de passe oublié : lien refusé"),
        )
        PASSWORD_RESET = "password.reset", _("Mot de passe réinitialisé")
        PASSWORD_CHANGED = "password.changed", _("Mot de passe modifié")
        PASSWORD_CHECK_FAILED = (
            "password.check_failed",
            _("Mot de passe actuel erroné (espace personnel)"),
        )
        EMAIL_CHANGE_REQUESTED = (
            "email.change_requested",
            _("Adresse personnelle : vérification envoyée"),
        )
        EMAIL_CHANGE_CODE_REJECTED = (
            "email.change_code_rejected",
            _("Adresse personnelle : lien refusé"),
        )
        EMAIL_CHANGED = "email.changed", _("Adresse personnelle modifiée")
        # --- Update requests and help desk (helpdesk branch) ---
        UPDATE_REQUEST_IDENTIFY_FAILED = (
            "update_request.identify.failed",
            _("Demande de mise à jour : identification refusée"),
        )
        UPDATE_REQUEST_CREATED = "update_request.created", _("Demande de mise à jour reçue")
        UPDATE_REQUEST_TAKEN = "update_request.taken", _("Demande de mise à jour prise en charge")
        UPDATE_REQUEST_APPROVED = "update_request.approved", _("Demande de mise à jour acceptée")
        UPDATE_REQUEST_REJECTED = "update_request.rejected", _("Demande de mise à jour refusée")
        DIRECTORY_CORRECTED = "directory.corrected", _("Données corrigées par l'assistance")
        STAFF_LOGIN_OK = "staff.login.ok", _("Assistance : connexion réussie")
        STAFF_LOGIN_FAILED = "staff.login.failed", _("Assistance : connexion refusée")
        STAFF_LOGIN_THROTTLED = "staff.login.throttled", _("Assistance : connexion bloquée")
        STAFF_TOTP_FAILED = "staff.totp.failed", _("Assistance : code TOTP refusé")
        STAFF_TOTP_ENROLLED = "staff.totp.enrolled", _("Assistance : second facteur enregistré")
        STAFF_TOTP_RESET = "staff.totp.reset", _("Assistance : second facteur réinitialisé")
        STAFF_CREATED = "staff.created", _("Assistance : compte personnel créé")
        STAFF_INVITE_SENT = "staff.invite.sent", _("Assistance : invitation envoyée")
        STAFF_PASSWORD_SET = "staff.password_set", _("Assistance : mot de passe choisi")
        STAFF_ROLE_CHANGED = "staff.role_changed", _("Assistance : rôle modifié")
        STAFF_DEACTIVATED = "staff.deactivated", _("Assistance : compte personnel désactivé")
        HELPDESK_ACCOUNT_LOCKED = "helpdesk.locked", _("Compte bloqué par l'assistance")
        HELPDESK_ACCOUNT_UNLOCKED = "helpdesk.unlocked", _("Compte débloqué par l'assistance")
        HELPDESK_ACCOUNT_DISABLED = "helpdesk.disabled", _("Compte désactivé par l'assistance")
        HELPDESK_SESSIONS_ENDED = "helpdesk.sessions_ended", _("Sessions fermées par l'assistance")
        HELPDESK_ACTIVATION_RESENT = (
            "helpdesk.activation_resent",
            _("Lien d'activation renvoyé par l'assistance"),
        )
        HELPDESK_THROTTLE_LIFTED = (
            "helpdesk.throttle_lifted",
            _("Blocage des connexions levé par l'assistance"),
        )
        PURGE_RUN = "purge.run", _("Purge des données anciennes")
        # Webmail: a message sent by a student (ent.webmail.sending); never its content
        WEBMAIL_MESSAGE_SENT = "webmail.message_sent", _("Webmail : message envoyé")
        WEBMAIL_SEND_THROTTLED = "webmail.send_throttled", _("Webmail : envoi refusé (limite)")
        MAIL_RETRIED = "mail.retried", _("Assistance : nouvel envoi d'un mail en échec")
        # CAS server (ent.sso.cas)
        CAS_TICKET_ISSUED = "cas.ticket_issued", _("CAS : connexion à un service")
        CAS_PROXY_TICKET_ISSUED = "cas.proxy_ticket_issued", _("CAS : ticket de proxy délivré")
        CAS_PROXY_GRANTED = "cas.proxy_granted", _("CAS : ticket d'octroi de proxy délivré")
        CAS_VALIDATION_FAILED = "cas.validation_failed", _("CAS : validation de ticket refusée")
        CAS_SERVICE_UNKNOWN = "cas.service_unknown", _("CAS : service inconnu refusé")
        # OpenID Connect (ent.sso.oidc)
        OIDC_CLIENT_CREATED = "oidc.client_created", _("OIDC : client créé")
        OIDC_CLIENT_UPDATED = "oidc.client_updated", _("OIDC : client modifié")
        OIDC_CLIENT_REMOVED = "oidc.client_removed", _("OIDC : client supprimé")
        OIDC_SECRET_ROTATED = "oidc.secret_rotated", _("OIDC : secret client renouvelé")
        OIDC_AUTHORIZED = "oidc.authorized", _("OIDC : connexion à un service")
        OIDC_LOGOUT = "oidc.logout", _("OIDC : déconnexion demandée par un service")
        OIDC_TOKEN_REPLAYED = "oidc.token_replayed", _("OIDC : jeton rejoué, jetons révoqués")
        # Service registry, managed at the help desk (ent.sso.registry)
        REGISTRY_CREATED = "registry.created", _("Registre : service ajouté")
        REGISTRY_UPDATED = "registry.updated", _("Registre : service modifié")
        REGISTRY_ENABLED = "registry.enabled", _("Registre : service activé")
        REGISTRY_DISABLED = "registry.disabled", _("Registre : service désactivé")
        REGISTRY_DELETED = "registry.deleted", _("Registre : service supprimé")
        REGISTRY_SECRET_ROTATED = "registry.secret_rotated", _("Registre : secret client régénéré")
        # Webmail: Courrier › Filtres (ent.webmail.forwarding)
        WEBMAIL_FORWARDING_SET = "webmail.forwarding_set", _("Webmail : transfert activé")
        WEBMAIL_FORWARDING_REMOVED = "webmail.forwarding_removed", _("Webmail : transfert arrêté")
        WEBMAIL_FORWARDING_VERIFY_SENT = (
            "webmail.forwarding_verify_sent",
            _("Webmail : vérification de l'adresse de transfert envoyée"),
        )
        WEBMAIL_FORWARDING_CODE_REJECTED = (
            "webmail.forwarding_code_rejected",
            _("Webmail : lien de vérification du transfert refusé"),
        )
        WEBMAIL_VACATION_SET = "webmail.vacation_set", _("Webmail : répondeur activé")
        WEBMAIL_VACATION_REMOVED = "webmail.vacation_removed", _("Webmail : répondeur arrêté")

    at = models.DateTimeField(db_index=True)
    # No ``choices=`` on the column: each application adds its own kinds, and a new kind must
    # not need a migration of this table. ``Kind`` stays the one list of labels.
    kind = models.CharField(max_length=64, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    student = models.ForeignKey(
        "directory.Student",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["student", "-at"])]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}"

    @property
    def label(self) -> str:
        """The human label of the kind (the raw value for a kind no longer known)."""
        try:
            return str(self.Kind(self.kind).label)
        except ValueError:
            return self.kind


class ThrottleCounter(models.Model):
    """Failures counted for one (scope, key): a student number, a client address…

    The key is stored hashed: the table is a security control, not a log of who tried what.
    """

    scope = models.CharField(max_length=32)
    key_hash = models.CharField(max_length=64)
    consecutive_failures = models.PositiveIntegerField(default=0)
    window_started_at = models.DateTimeField(null=True, blank=True)
    window_failures = models.PositiveIntegerField(default=0)
    blocked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "key_hash"], name="throttle_scope_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key_hash[:8]}"


class OneTimeCode(models.Model):
    """A code mailed to a person: activation, password reset, address verification.

    Only the SHA-256 of the code is stored; the code itself exists in the mail alone. A code
    is single use (``used_at``), expires (``expires_at``) and is revoked when a newer one of the
    same purpose is issued for the same account (``revoked_at``).
    """

    class Purpose(models.TextChoices):
        ACTIVATION = "activation", _("Activation du compte")
        PASSWORD_RESET = "password_reset", _("Mot de passe oublié")
        EMAIL_CHANGE = "email_change", _("Vérification d'adresse")
        STAFF_INVITE = "staff_invite", _("Invitation d'un membre de l'assistance")
        FORWARD_VERIFY = "forward_verify", _("Vérification d'une adresse de transfert")

    purpose = models.CharField(max_length=32)  # a Purpose value; no choices= (see AuditEvent.kind)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="codes"
    )
    email = models.EmailField(max_length=254)
    code_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["account", "purpose"])]

    def __str__(self) -> str:
        return f"{self.purpose} code for account {self.account_id}"


class OutboxMail(models.Model):
    """A mail kept by the demo outbox instead of being sent (demo mode only)."""

    created_at = models.DateTimeField(auto_now_add=True)
    # The envelope (SMTP MAIL FROM and RCPT TO): a forwarded mail keeps its author's From
    # header but goes out with the forwarding mailbox as envelope sender, so both are kept.
    from_email = models.CharField(max_length=254)
    to = models.TextField()
    header_from = models.TextField(blank=True)  # the From header, as the reader sees it
    header_to = models.TextField(blank=True)  # the To header
    subject = models.CharField(max_length=998)
    body_text = models.TextField()
    body_html = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.subject


class MailDelivery(models.Model):
    """One outgoing mail on the database queue: what to send, and where its sending stands.

    Written by ``ent.core.mail.mail_send`` / ``mail_send_raw`` in the transaction of the change
    that caused the mail, and sent by ``ent worker`` (a django-tasks-db task per attempt whose
    only argument is this row's id). ``key`` (a digest of the caller's idempotency key) is
    unique, so a mail is queued once; ``state`` is changed under a row lock before and after
    the SMTP conversation, so a task run twice, or a retry racing another, never sends it twice.

    ``payload`` (the rendered mail: subject, text, HTML) or ``raw`` (the bytes of an already
    built message) hold what was true when the mail was queued, including the code of a link:
    they are cleared as soon as the relay has taken the mail. A mail that failed for good keeps
    them so the help desk can retry it; ``ent purge`` clears them after a week.
    """

    class State(models.TextChoices):
        QUEUED = "queued", _("En attente")
        SENDING = "sending", _("En cours d'envoi")
        RETRYING = "retrying", _("Nouvel essai prévu")
        SENT = "sent", _("Envoyé")
        FAILED = "failed", _("Échec")
        # Not sent, on purpose: the link it carried was revoked while it waited (the account
        # was locked or disabled), so its content is dropped and nobody gets a dead link.
        WITHDRAWN = "withdrawn", _("Retiré (lien révoqué)")

    key = models.CharField(max_length=64, unique=True)
    message_id = models.CharField(max_length=255)
    template = models.CharField(max_length=64)  # "raw" for mail_send_raw
    sender = models.CharField(max_length=254)
    to = models.TextField()  # envelope recipients, comma-separated
    subject = models.CharField(max_length=998, blank=True)
    payload = models.JSONField(null=True, blank=True)
    raw = models.BinaryField(null=True, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sending_since = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    task_id = models.CharField(max_length=64, blank=True)  # the django-tasks-db row to run

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.template} to {self.to} ({self.state})"

    @property
    def retryable(self) -> bool:
        """Failed for good, and still holding what to send."""
        return self.state == self.State.FAILED and (
            self.payload is not None or self.raw is not None
        )
