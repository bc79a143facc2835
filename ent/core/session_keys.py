"""Names of the values ENT keeps in a session (one place, so no two features collide)."""

ACTIVATION_STUDENT = "ent.activation.student_id"
ACTIVATION_STARTED_AT = "ent.activation.identified_at"
ACTIVATION_ACCOUNT = "ent.activation.account_id"
ACTIVATION_LINK_CODE = "ent.activation.link_code"
PASSWORD_RESET_LINK_CODE = "ent.password_reset.link_code"  # noqa: S105 (a key name)
EMAIL_CHANGE_LINK_CODE = "ent.email_change.link_code"
FORWARD_VERIFY_LINK_CODE = "ent.webmail.forward_verify.link_code"  # Courrier › Filtres › Transfert

# Update requests and help desk (helpdesk branch)
UPDATE_REQUEST_REFERENCE = "ent.update_request.reference"
HELPDESK_PENDING_STAFF = "ent.helpdesk.pending_staff_id"
HELPDESK_PENDING_AT = "ent.helpdesk.pending_at"
HELPDESK_INVITE_CODE = "ent.helpdesk.invite_code"

# CAS single sign-on (ent.sso.cas)
SSO_ID = "ent.sso.id"  # random id of this sign-on session, kept across session-key rotation
SSO_AUTHENTICATED_AT = "ent.sso.authenticated_at"  # when the password was last typed (ISO)
CAS_FRESH_LOGIN = "ent.cas.fresh_login"  # {"next": /cas/login URL, "at": timestamp}
CAS_SERVICES = "ent.cas.services"  # [[ticket, service id, service URL], …] for single logout

# Service registry at the help desk (registry branch): a new OIDC client secret, kept only
# between the POST that made it and the page that shows it once (popped there).
REGISTRY_NEW_SECRET = "ent.registry.new_secret"  # noqa: S105 (a key name)

# OpenID Connect (ent.sso.oidc_views): an authorization request that sent the browser to /login
# (prompt=login, max_age, a signed-out student): {"url": its path and query, "at": ISO time}.
OIDC_LOGIN_ASKED = "ent.oidc.login_asked"
