"""Agent ``own_emails``: makes customers' email addresses unique.

Consumes customers.email-claims (ClaimEmail, ReleaseEmail; keyed by the
lower-cased address, so all claims of one address meet in one partition).
Owns the table ``email-owners``. Produces customers.email-results (keyed by
customerId).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from orderflow.agents.runtime import Inbound
from orderflow.schemas import catalog
from orderflow.schemas.messages import ClaimEmail, EmailOwner, ReleaseEmail
from orderflow.tables import customers as logic

if TYPE_CHECKING:
    from orderflow.agents.app import Pipeline

__all__ = ["register"]

AGENT = catalog.OWN_EMAILS


def register(pipeline: Pipeline) -> None:
    owners = pipeline.rows(catalog.EMAIL_OWNERS_TABLE, EmailOwner, writer=AGENT)
    outbox = pipeline.outbox_for(AGENT)

    async def handle(msg: Inbound) -> str:
        owner = owners.get(msg.key)
        if msg.kind == "ReleaseEmail":
            if not logic.release(owner, msg.record_as(ReleaseEmail)):
                return "unchanged"
            owners.delete(msg.key)
            return "applied"
        new_owner, result = logic.claim(owner, msg.record_as(ClaimEmail))
        if new_owner is not None:
            owners.put(msg.key, new_owner)
        # Answered every time, so a replayed claim is answered again.
        await outbox.send(catalog.EMAIL_CLAIM_RESULTS, result["customerId"], "EmailClaimResult", result)
        return "applied" if new_owner is not None else "unchanged"

    pipeline.add_agent(AGENT, (catalog.EMAIL_CLAIMS,), handle)
