"""``cas.cas_login``: every ``/cas/login`` decision of the CAS 3.0 spec, without a request.

The view tests (tests/sso/test_cas.py) check the same paths end to end.
"""

from __future__ import annotations

from django.urls import reverse

from ent.sso import cas
from ent.sso.cas import (
    IssueTicket,
    LoginParams,
    Redirect,
    Refusal,
    Refuse,
    SignIn,
    Warn,
    cas_login,
)
from ent.sso.models import Service

URL = "https://moodle.example.org/login"
SERVICE = Service(slug="moodle", protocol=Service.Protocol.CAS)


class FreshLogin:
    """A ``fresh_login`` that records whether it was asked (asking consumes the mark)."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.answer


def decide(
    *,
    signed_in: bool,
    fresh: bool = False,
    service: Service | None = SERVICE,
    service_url: str = URL,
    renew: bool = False,
    gateway: bool = False,
    warn: bool = False,
    method: str = "GET",
) -> cas.LoginDecision:
    params = LoginParams(
        service_url=service_url, renew=renew, gateway=gateway, warn=warn, method=method
    )
    return cas_login(params, signed_in=signed_in, service=service, fresh_login=FreshLogin(fresh))


def test_params_from_query() -> None:
    params = LoginParams.from_query(
        {"service": URL, "renew": "true", "gateway": "0", "warn": "", "method": "post"}
    )
    assert params == LoginParams(service_url=URL, renew=True, method="POST")
    assert LoginParams.from_query({}) == LoginParams()
    assert cas.flag("1") and cas.flag("yes") and not cas.flag("FALSE") and not cas.flag(None)


# --- No service (spec 2.1.5) ---------------------------------------------------------------------


def test_no_service_signed_in_goes_to_the_portal() -> None:
    assert decide(signed_in=True, service_url="", service=None) == Redirect(reverse("portal:home"))


def test_no_service_signed_out_signs_in() -> None:
    assert decide(signed_in=False, service_url="", service=None) == SignIn(renew=False)


def test_no_service_with_renew_signs_in_again() -> None:
    decision = decide(signed_in=True, service_url="", service=None, renew=True)
    assert decision == SignIn(renew=False)  # back to /cas/login, which has nothing to renew


# --- Unknown service, bad method ---------------------------------------------------------------


def test_unknown_service_is_refused_signed_in_or_not() -> None:
    for signed_in in (True, False):
        decision = decide(signed_in=signed_in, service=None)
        assert decision == Refuse(Refusal.UNKNOWN_SERVICE)


def test_unknown_service_does_not_consume_the_fresh_login() -> None:
    fresh = FreshLogin(True)
    cas_login(LoginParams(service_url=URL), signed_in=True, service=None, fresh_login=fresh)
    assert fresh.asked == 0


def test_unsupported_method_is_refused() -> None:
    assert decide(signed_in=True, method="HEADER") == Refuse(Refusal.BAD_METHOD)


# --- Signed in: single sign-on -----------------------------------------------------------------


def test_signed_in_gets_a_ticket() -> None:
    assert decide(signed_in=True) == IssueTicket(
        service=SERVICE, service_url=URL, from_new_login=False, post=False
    )


def test_fresh_login_makes_a_primary_ticket() -> None:
    decision = decide(signed_in=True, fresh=True)
    assert isinstance(decision, IssueTicket) and decision.from_new_login


def test_method_post_sends_the_ticket_by_a_form() -> None:
    decision = decide(signed_in=True, method="POST")
    assert isinstance(decision, IssueTicket) and decision.post


def test_signed_out_fresh_login_is_never_asked() -> None:
    fresh = FreshLogin(True)
    decision = cas_login(
        LoginParams(service_url=URL), signed_in=False, service=SERVICE, fresh_login=fresh
    )
    assert decision == SignIn(renew=False)
    assert fresh.asked == 0


# --- renew (spec 2.1.1) ----------------------------------------------------------------------------


def test_renew_asks_the_password_again_of_a_signed_in_student() -> None:
    assert decide(signed_in=True, renew=True) == SignIn(renew=True)


def test_renew_after_the_password_gives_a_primary_ticket() -> None:
    decision = decide(signed_in=True, renew=True, fresh=True)
    assert decision == IssueTicket(
        service=SERVICE, service_url=URL, from_new_login=True, post=False
    )


def test_renew_signed_out_signs_in_with_renew() -> None:
    assert decide(signed_in=False, renew=True) == SignIn(renew=True)


# --- gateway (spec 2.1.1) ------------------------------------------------------------------------


def test_gateway_without_session_goes_back_without_a_ticket() -> None:
    assert decide(signed_in=False, gateway=True) == Redirect(URL)


def test_gateway_with_session_gets_a_ticket() -> None:
    decision = decide(signed_in=True, gateway=True)
    assert isinstance(decision, IssueTicket) and not decision.from_new_login


def test_renew_wins_over_gateway() -> None:
    assert decide(signed_in=False, gateway=True, renew=True) == SignIn(renew=True)


# --- warn (spec 2.2.1) -----------------------------------------------------------------------------


def test_warn_asks_before_single_sign_on() -> None:
    assert decide(signed_in=True, warn=True) == Warn(SERVICE)


def test_warn_right_after_the_password_does_not_ask_again() -> None:
    decision = decide(signed_in=True, warn=True, fresh=True)
    assert isinstance(decision, IssueTicket) and decision.from_new_login


def test_warn_signed_out_signs_in() -> None:
    assert decide(signed_in=False, warn=True) == SignIn(renew=False)
