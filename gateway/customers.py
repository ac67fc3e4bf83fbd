"""Customer routes of the gateway (the customers service of the design):

- POST /api/v1/customers: validate (email included), produce CreateCustomer,
  wait briefly for the outcome: 201 {customerId}, or 409 when the email
  address belongs to another customer.
- GET /api/v1/customers/{customerId}: the customer, from the customers table.
  A customer's token sees only its own record (another's is a 404).
- PUT /api/v1/customers/{customerId}: produce UpdateCustomer, wait for the
  outcome: 200 with the customer, or 409 when the new address is taken.

Registration and updates are decided by the customer agents; the gateway
only checks shapes and waits for the table to show the result.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import quote

from aiohttp import web

from orderflow.gateway.context import CONTEXT, GatewayContext
from orderflow.gateway.errors import json_error
from orderflow.gateway.handling import body_as, not_found, produce, seen_customer_id
from orderflow.gateway.presenters import present_customer
from orderflow.gateway.requests import (
    CustomerRequest,
    CustomerUpdateRequest,
    to_create_customer,
    to_update_customer,
)
from orderflow.gateway.tracking import WorkersUnavailable
from orderflow.schemas import catalog
from orderflow.schemas.messages import CustomerState
from orderflow.tables.clock import now_ms

__all__ = ["routes"]

DECISION_WAIT_S = 10.0


async def fetch_customer(ctx: GatewayContext, customer_id: str, query: str = "", wait_s: float = 0.0
                         ) -> tuple[int, Any]:
    return await ctx.tracking.get_json(f"/customers/{quote(customer_id, safe='')}{query}", wait_s=wait_s)


async def create_customer(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    req = await body_as(request, CustomerRequest, "the customer")
    customer_id = f"cust_{uuid.uuid4().hex[:20]}"
    failed = await produce(ctx, catalog.CUSTOMER_COMMANDS, customer_id, "CreateCustomer",
                           to_create_customer(req, customer_id, now_ms()))
    if failed is not None:
        return failed
    try:
        status, row = await fetch_customer(
            ctx, customer_id, f"?waitWhileStatus=registering&timeout={DECISION_WAIT_S}", DECISION_WAIT_S)
    except WorkersUnavailable:
        status, row = 503, None
    location = {"Location": f"/api/v1/customers/{customer_id}"}
    if status == 200 and row["status"] == "rejected":
        return json_error(409, "conflict", f"email {row['email']} belongs to another customer")
    if status == 200 and row["status"] == "active":
        return web.json_response({"customerId": customer_id}, status=201, headers=location)
    return web.json_response({"customerId": customer_id, "status": "registering"}, status=202, headers=location)


async def get_customer(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    customer_id = seen_customer_id(request)
    status, row = await fetch_customer(ctx, customer_id)
    if status != 200 or row["status"] != "active":
        return not_found("customer", customer_id)
    return web.json_response(present_customer(row))


async def update_customer(request: web.Request) -> web.Response:
    ctx = request.app[CONTEXT]
    customer_id = seen_customer_id(request)
    req = await body_as(request, CustomerUpdateRequest, "the update")
    status, row = await fetch_customer(ctx, customer_id)
    if status != 200 or row["status"] != "active":
        return not_found("customer", customer_id)
    command = to_update_customer(req, customer_id, now_ms())
    if not _changes(row, command):
        return web.json_response(present_customer(row))
    failed = await produce(ctx, catalog.CUSTOMER_COMMANDS, customer_id, "UpdateCustomer",
                           command)
    if failed is not None:
        return failed
    row = await _settled(ctx, customer_id, row["revision"])
    if row["lastUpdateError"] is not None and row["pendingUpdate"] is None:
        return json_error(409, "conflict", f"the update was refused: {row['lastUpdateError']}")
    return web.json_response(present_customer(row))


def _changes(row: dict[str, Any], command: dict[str, Any]) -> list[str]:
    """The fields an update would change (an unchanged row gets no new revision to wait for)."""
    wanted = {k: v for k, v in command.items() if k in ("email", "firstName", "lastName", "phone", "address")
              and v is not None}
    if "email" in wanted:
        wanted["email"] = wanted["email"].strip().lower()
    return [k for k, v in wanted.items() if row[k] != v]


async def _settled(ctx: GatewayContext, customer_id: str, revision: int) -> CustomerState:
    """The customer once the update is decided (no email claim pending), or as it is at the deadline."""
    deadline = time.monotonic() + DECISION_WAIT_S
    while True:
        left = max(deadline - time.monotonic(), 0.0)
        status, row = await fetch_customer(ctx, customer_id, f"?afterRevision={revision}&timeout={left:.2f}", left)
        if status != 200:
            raise WorkersUnavailable(f"reading the customer answered {status}")
        if (row["revision"] > revision and row["pendingUpdate"] is None) or left == 0.0:
            return row
        revision = row["revision"]


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/v1/customers", create_customer),
        web.get("/api/v1/customers/{customer_id}", get_customer),
        web.put("/api/v1/customers/{customer_id}", update_customer),
    ]
