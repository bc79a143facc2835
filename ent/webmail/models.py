"""Models of the webmail: what waits for a mailed link before it reaches the mail store."""

from __future__ import annotations

from django.db import models


class PendingForwarding(models.Model):
    """A forwarding rule waiting for its address to be verified (Courrier › Filtres › Transfert).

    Mail is forwarded to an address other than the verified personal one only after the link
    mailed there is followed (``ent.webmail.forwarding``). Until then the rule lives here, tied
    to the mailed code: the code's own row holds the address, its expiry and its single use,
    and a newer code (a newer request) revokes it, so at most one rule waits per account.
    """

    code = models.OneToOneField(
        "core.OneTimeCode", on_delete=models.CASCADE, related_name="pending_forwarding"
    )
    address = models.EmailField(max_length=254)
    keep_copy = models.BooleanField()

    def __str__(self) -> str:
        return f"pending forwarding of code {self.code_id}"
