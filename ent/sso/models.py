"""The registry of services that sign students in through ENT (CAS or OpenID Connect).

The registry is never open: a CAS ``service`` URL that matches no enabled entry gets no
ticket, and an OIDC client exists only as an entry here. Each entry says which attributes (or
claims) it may receive; nothing else is released to it.
"""

from __future__ import annotations

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _


class Attribute(models.TextChoices):
    """What a service may receive about a student (CAS attribute names; OIDC maps them)."""

    UID = "uid", _("Identifiant (numéro étudiant)")
    SUPANN_ETU_ID = "supannEtuId", _("Numéro étudiant (supannEtuId)")
    MAIL = "mail", _("Adresse institutionnelle")
    DISPLAY_NAME = "displayName", _("Prénom et nom")
    GIVEN_NAME = "givenName", _("Prénom")
    SN = "sn", _("Nom")
    AFFILIATION = "eduPersonAffiliation", _("Affiliation (student)")
    EPPN = "eduPersonPrincipalName", _("eduPersonPrincipalName")


def pattern_fullmatch(pattern: str, url: str) -> bool:
    """Whether a registry pattern matches all of ``url``.

    ``re.ASCII``: with a case-insensitive pattern, Unicode folding would let a look-alike host
    match (``unıv-perp.fr``, dotless ı, for ``(?i)univ-perp\\.fr``), and ``\\w`` would accept
    any letter: a different domain once IDNA-encoded. A pattern that cannot be matched that way
    (``(?u)``, refused by ``validate_pattern`` since) matches nothing.
    """
    try:
        return re.fullmatch(pattern, url, re.ASCII) is not None
    except (re.error, ValueError, OverflowError, RecursionError):
        return False


def pattern_allows(pattern: str, url: str) -> bool:
    """Whether a registry pattern field lets ``url`` through: an empty pattern allows nothing.

    The rule of ``Service.matches_cas_service`` and ``Service.allows_proxy_callback``, and of the
    CAS fast path, which reads the pattern columns itself (``ent.sso.cas._ServiceView``).
    """
    return bool(pattern) and pattern_fullmatch(pattern, url)


def validate_pattern(value: str) -> None:
    """A service-URL pattern must be a valid regular expression (matched with ``re.ASCII``)."""
    try:
        re.compile(value, re.ASCII)
    # ValueError: "(?u)" contradicts re.ASCII; OverflowError: "a{99999999999}" (a repetition
    # count beyond what ``re`` can hold); RecursionError: parentheses nested thousands deep.
    except (re.error, ValueError, OverflowError, RecursionError) as exc:
        raise ValidationError(
            _("Expression régulière invalide : %(e)s"), params={"e": exc}
        ) from None


def _in_language(french: str, english: str) -> str:
    language = (translation.get_language() or "fr").split("-")[0]
    return english if language == "en" and english else french


class Service(models.Model):
    """One university service: a portal tile and what it may know of the student."""

    class Protocol(models.TextChoices):
        CAS = "cas", _("CAS 3.0")
        OIDC = "oidc", _("OpenID Connect")

    class Icon(models.TextChoices):
        MAIL = "mail", _("Courrier")
        COURSES = "courses", _("Cours en ligne")
        LIBRARY = "library", _("Bibliothèque")
        CALENDAR = "calendar", _("Emploi du temps")
        GRADES = "grades", _("Notes")
        GENERIC = "generic", _("Autre")

    # Shown to students on the portal tile: held in French and in English, the tile picking
    # the active language (French when the English text is empty). Words a student knows,
    # never the protocol ("client OpenID Connect" means nothing to them).
    name = models.CharField(_("nom"), max_length=100)
    name_en = models.CharField(_("nom en anglais"), max_length=100, blank=True)
    slug = models.SlugField(_("nom court"), max_length=50, unique=True)
    description = models.CharField(_("description"), max_length=300, blank=True)
    description_en = models.CharField(_("description en anglais"), max_length=300, blank=True)
    icon = models.CharField(_("icône"), max_length=16, choices=Icon.choices, default=Icon.GENERIC)
    home_url = models.URLField(_("adresse d'accueil"), max_length=500)
    protocol = models.CharField(_("protocole"), max_length=8, choices=Protocol.choices)
    enabled = models.BooleanField(_("actif"), default=True)
    show_on_portal = models.BooleanField(_("tuile sur le portail"), default=True)
    order = models.PositiveIntegerField(_("ordre"), default=100)
    attributes = models.JSONField(
        _("attributs transmis"),
        default=list,
        blank=True,
        help_text=_("Noms d'attributs (uid, mail, displayName…) que le service peut recevoir."),
    )
    # CAS: a service URL is accepted when this pattern matches all of it (re.fullmatch, see
    # ``matches_cas_service``), so "https://moodle\\.univ-perp\\.fr/.*" cannot be fooled by a
    # prefix ("https://moodle.univ-perp.fr.evil.example/") or a suffix.
    cas_service_pattern = models.CharField(
        _("motif des adresses de service CAS"),
        max_length=500,
        blank=True,
        validators=[validate_pattern],
    )
    # Single logout: CAS services get the SAML LogoutRequest POSTed here (or to the service URL
    # they signed in with when empty); OIDC services get a back-channel logout token here.
    logout_url = models.URLField(_("adresse de déconnexion unique (SLO)"), blank=True)
    cas_proxy_callback_pattern = models.CharField(
        _("motif des adresses de rappel proxy (pgtUrl)"),
        max_length=500,
        blank=True,
        validators=[validate_pattern],
    )
    # OIDC: the client id and the exact redirect URIs (one per line, compared character for
    # character). The client secret is never stored here in clear: ent.sso.oidc keeps the
    # django-oauth-toolkit Application in step with this entry and hashes the secret.
    oidc_client_id = models.CharField(
        _("identifiant client OIDC"), max_length=100, blank=True, db_index=True
    )
    oidc_redirect_uris = models.TextField(_("adresses de redirection OIDC"), blank=True)
    # OIDC: the university registered it, so the consent screen is skipped.
    # Off by default: a newly registered service asks the student's consent until staff decide
    # that the university trusts it (a service outside the university should keep asking).
    trusted = models.BooleanField(
        _("service de confiance (sans écran de consentement)"), default=False
    )

    class Meta:
        ordering = ["order", "name"]
        verbose_name = _("service")

    def __str__(self) -> str:
        return self.name

    @property
    def shown_name(self) -> str:
        """The name in the active language (French when no English name is held)."""
        return _in_language(self.name, self.name_en)

    @property
    def shown_description(self) -> str:
        """The description in the active language (French when no English one is held)."""
        return _in_language(self.description, self.description_en)

    def matches_cas_service(self, url: str) -> bool:
        """Whether ``url`` is one of this entry's CAS service URLs (the whole URL must match)."""
        return pattern_allows(self.cas_service_pattern, url)

    def allows_proxy_callback(self, url: str) -> bool:
        """Whether this service may receive proxy-granting tickets at ``url`` (pgtUrl)."""
        return pattern_allows(self.cas_proxy_callback_pattern, url)


# --- CAS tickets (ent.sso.cas) -----------------------------------------------------------------


class CasTicket(models.Model):
    """A CAS ticket: service ticket (ST), proxy ticket (PT) or proxy-granting ticket (PGT).

    Only the SHA-256 of the ticket is stored: a copy of the table yields no usable ticket.
    An ST or PT is consumed by one conditional UPDATE (``consumed_at IS NULL``), so two
    validations at once cannot both succeed, whatever the database. Tickets live in the database
    so that every web instance behind the load balancer sees them. A PGTIOU is never stored: it
    only correlates the callback with the validation response, which happen in one request.
    """

    class Kind(models.TextChoices):
        SERVICE = "ST", _("Ticket de service")
        PROXY = "PT", _("Ticket de proxy")
        PROXY_GRANTING = "PGT", _("Ticket d'octroi de proxy")

    kind = models.CharField(max_length=3, choices=Kind.choices)
    ticket_hash = models.CharField(max_length=64, unique=True)
    account = models.ForeignKey(
        "accounts.Account", on_delete=models.CASCADE, related_name="cas_tickets"
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="cas_tickets")
    # The exact service identifier the ticket was issued for (ST: ``service`` given to /login;
    # PT: ``targetService`` given to /proxy; PGT: the service whose validation created it).
    service_url = models.CharField(max_length=2000)
    # The ENT session it came from: logging out deletes the session's tickets (a PGT "MUST
    # expire when the client logs out", spec 3.3.1).
    session_key = models.CharField(max_length=64, db_index=True)
    # Issued right after the student typed the password (``renew``, ``isFromNewLogin``).
    from_new_login = models.BooleanField(default=False)
    authenticated_at = models.DateTimeField()
    # Proxy chain, most recent first (PT, PGT); a PGT's own callback URL comes first.
    proxies = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ticket CAS")

    def __str__(self) -> str:
        return f"{self.kind} for {self.service_url[:60]}"


# --- OpenID Connect (ent.sso.oidc) ------------------------------------------------------------


class OidcClient(models.Model):
    """The django-oauth-toolkit Application that stands for one OIDC entry of the registry.

    Created and changed only by ``ent.sso.oidc.oidc_client_sync`` (and the secret by
    ``oidc_secret_rotate``), so the registry stays the one place where a client is described.
    """

    service = models.OneToOneField(Service, on_delete=models.CASCADE, related_name="oidc_client")
    application = models.OneToOneField(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL,
        on_delete=models.CASCADE,
        related_name="ent_client",
    )
    secret_set_at = models.DateTimeField(_("secret défini le"))

    class Meta:
        verbose_name = _("client OpenID Connect")

    def __str__(self) -> str:
        return f"{self.service} ({self.application.client_id})"


class OidcSubject(models.Model):
    """The ``sub`` claim of an account: random, opaque and stable.

    Random rather than derived from a key, so rotating SECRET_KEY or the signing key never
    changes it (a relying party keys its users on ``sub``), and it reveals nothing of the
    student number.
    """

    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="oidc_subject"
    )
    sub = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("identifiant OpenID Connect")

    def __str__(self) -> str:
        return self.sub


class OidcSession(models.Model):
    """An OIDC service that an ENT session signed in to: it gets a back-channel logout."""

    session_key = models.CharField(max_length=64, db_index=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["session_key", "service"], name="sso_oidcsession_unique_per_service"
            )
        ]

    def __str__(self) -> str:
        return f"{self.account_id} → {self.service_id}"


class OidcSpentCode(models.Model):
    """An authorization code already exchanged, kept until it would have expired.

    A second exchange of the same code is refused (``invalid_grant``) and revokes what the first
    one produced (RFC 6749 4.1.2, RFC 9700 4.2.4): its access token, and the refresh-token
    family started with it (so every token refreshed from it since). The code itself is never
    stored, only its SHA-256 digest (codes are random, a slow hash would add nothing). Rows are
    removed by ``ent purge`` once expired.
    """

    code_hash = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey(
        settings.OAUTH2_PROVIDER_APPLICATION_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    # Plain values rather than foreign keys: the tokens come and go (rotation deletes the
    # access token), and a foreign key would make every such deletion look here first.
    access_token_id = models.BigIntegerField(null=True)
    token_family = models.UUIDField(null=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("code d'autorisation OpenID Connect utilisé")

    def __str__(self) -> str:
        return f"spent code {self.code_hash[:8]}…"


class OidcAuthentication(models.Model):
    """When the student typed the password for one authorization: the ``auth_time`` of its
    ID tokens (OpenID Connect Core 1.0, sections 2 and 12.2).

    Written with the grant at ``/oauth/authorize/`` (``grant_id``, a plain column: the grant
    row is deleted at the exchange without Django's cascade), read with the grant at the
    exchange, then by ``family`` (the refresh tokens of that exchange carry it as their
    ``token_family``) at every refresh: each ID token of the authorization tells the same time.
    """

    grant_id = models.BigIntegerField(unique=True)
    family = models.UUIDField(unique=True)
    authenticated_at = models.DateTimeField()
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = _("authentification OpenID Connect")

    def __str__(self) -> str:
        return f"{self.family} @ {self.authenticated_at.isoformat()}"
