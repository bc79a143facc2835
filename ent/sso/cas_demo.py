"""The demo's CAS services: the Webmail tile and a Moodle registered for CAS."""

from __future__ import annotations

import re

from django.conf import settings

from .demo_services import moodle_url
from .models import Attribute, Service

# A local Moodle (or any CAS client) started on the loopback for a demo is accepted too.
_LOOPBACK = r"http://(?:127\.0\.0\.1|localhost)(?::[0-9]{1,5})?"


def register_demo_cas_services() -> list[Service]:
    """Register (or bring up to date) the demo's CAS services; safe to run at every start."""
    base = settings.BASE_URL.rstrip("/")
    webmail, _ = Service.objects.update_or_create(
        slug="webmail",
        defaults={
            # The guide's name for it (« Mon espace / Webmail Etudiant »).
            "name": "Webmail étudiant",
            "name_en": "Student webmail",
            "description": "Votre messagerie de l'université.",
            "description_en": "Your university mailbox.",
            "icon": Service.Icon.MAIL,
            "home_url": f"{base}/webmail/",
            "protocol": Service.Protocol.CAS,
            "enabled": True,
            "show_on_portal": True,
            "order": 10,
            "attributes": [a.value for a in Attribute],
            "cas_service_pattern": re.escape(base) + r"/webmail/.*",
        },
    )
    moodle, _ = Service.objects.update_or_create(
        slug="moodle",
        defaults={
            "name": "Moodle",
            "name_en": "Moodle",
            "description": "Cours en ligne.",
            "description_en": "Online courses.",
            "icon": Service.Icon.COURSES,
            # The demo's stand-in Moodle (ent.sso.demo_services), started by ``ent demo``.
            "home_url": moodle_url(),
            "protocol": Service.Protocol.CAS,
            "enabled": True,
            "show_on_portal": True,
            "order": 20,
            "attributes": [
                Attribute.UID.value,
                Attribute.MAIL.value,
                Attribute.GIVEN_NAME.value,
                Attribute.SN.value,
                Attribute.DISPLAY_NAME.value,
            ],
            "cas_service_pattern": rf"(?:https://moodle\.univ-perp\.fr|{_LOOPBACK})/.*",
            "cas_proxy_callback_pattern": r"https://moodle\.univ-perp\.fr/.*",
        },
    )
    return [webmail, moodle]
