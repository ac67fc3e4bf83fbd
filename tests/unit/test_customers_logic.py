"""tables.customers: registering customers with unique email addresses,
changing them, the customer and velocity checks of an order, and the
notifications of an order's customer-facing transitions."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from orderflow.schemas.codec import Codec
from orderflow.tables import customers
from orderflow.tables.order_status import CUSTOMER_FACING, PENDING, PENDING_PAYMENT

CODEC = Codec()
NOW = 1_700_000_000_000
AT = "2023-11-14T22:13:20.000Z"
ADDRESS = {"street": "1 Main St", "city": "Springfield", "state": "IL", "zipCode": "62701", "country": "US"}
LIMITS = customers.Limits(require_known_customer=True, max_orders=3, max_amount_cents=10_000)
EMPTY_WINDOW = {"orders": 0, "amountCents": 0}

Row = dict[str, Any]


def encodes(kind: str, record: Any) -> None:
    """Fails unless ``record`` has the shape of schema ``kind``."""
    CODEC.encode(f"orderflow.v1.{kind}", record)


def encodes_decision(decision: customers.CustomerDecision) -> None:
    if decision.row is not None:
        encodes("CustomerState", decision.row)
    for kind, record in [*decision.claims, *decision.events]:
        encodes(kind, record)


# --- messages --------------------------------------------------------------------------

def create_customer(customer_id: str = "cust_1", email: str = "  Ada@Example.COM ", **changes: Any) -> dict[str, Any]:
    return {"customerId": customer_id, "email": email, "firstName": "Ada", "lastName": "Lovelace",
            "phone": "+1 555 0100", "address": copy.deepcopy(ADDRESS), "requestedAt": NOW, **changes}


def update_customer(customer_id: str = "cust_1", **changes: Any) -> dict[str, Any]:
    return {"customerId": customer_id, "email": None, "firstName": None, "lastName": None, "phone": None,
            "address": None, "requestedAt": NOW, **changes}


def claim_result(email: str, granted: bool, customer_id: str = "cust_1") -> dict[str, Any]:
    return {"customerId": customer_id, "email": email, "granted": granted,
            "reason": None if granted else "email_taken"}


# --- driving the logic ----------------------------------------------------------------

def registering(customer_id: str = "cust_1") -> Row:
    decision = customers.create(None, create_customer(customer_id), NOW)
    assert decision.row is not None
    return decision.row


def active(customer_id: str = "cust_1") -> Row:
    row = registering(customer_id)
    decision = customers.on_claim_result(row, claim_result(row["email"], True, customer_id), NOW + 1, AT)
    assert decision.row is not None and decision.row["status"] == "active"
    return decision.row


def pending_email_change(new_email: str = "ada@new.example") -> Row:
    decision = customers.update(active(), update_customer(email=new_email), NOW + 2, AT)
    assert decision.row is not None and decision.row["pendingUpdate"] is not None
    return decision.row


# --- create ----------------------------------------------------------------------------

def test_create_makes_a_registering_row_with_the_lower_cased_email_and_claims_it():
    decision = customers.create(None, create_customer(), NOW)
    row = decision.row
    assert row is not None
    assert (row["customerId"], row["status"], row["email"]) == ("cust_1", "registering", "ada@example.com")
    assert (row["firstName"], row["lastName"], row["phone"], row["address"]) == (
        "Ada", "Lovelace", "+1 555 0100", ADDRESS)
    assert (row["revision"], row["createdAt"], row["updatedAt"]) == (1, NOW, NOW)
    assert (row["rejectReason"], row["pendingUpdate"], row["lastUpdateError"]) == (None, None, None)
    assert decision.claims == [("ClaimEmail", {"email": "ada@example.com", "customerId": "cust_1"})]
    assert decision.events == []
    encodes_decision(decision)


def test_create_does_not_share_the_commands_address():
    command = create_customer()
    row = customers.create(None, command, NOW).row
    assert row is not None
    command["address"]["city"] = "Elsewhere"
    assert row["address"]["city"] == "Springfield"


def test_duplicate_create_changes_nothing_and_claims_nothing():
    row = registering()
    decision = customers.create(row, create_customer(email="other@example.com"), NOW + 5)
    assert decision == customers.CustomerDecision()
    assert decision.row is None and decision.claims == [] and decision.events == []


def test_create_of_an_active_customer_changes_nothing():
    assert customers.create(active(), create_customer(), NOW + 5) == customers.CustomerDecision()


# --- the registration's claim result ---------------------------------------------------

def test_granted_claim_activates_the_customer_and_announces_customer_created():
    row = registering()
    decision = customers.on_claim_result(row, claim_result("ada@example.com", True), NOW + 1, AT)
    new = decision.row
    assert new is not None
    assert (new["status"], new["revision"], new["updatedAt"]) == ("active", 2, NOW + 1)
    assert decision.claims == []
    assert decision.events == [("CustomerCreated", {
        "eventId": "evt_cust_1_2", "eventType": "CustomerCreated", "timestamp": AT, "version": "1.0",
        "data": {"customerId": "cust_1", "email": "ada@example.com", "firstName": "Ada", "lastName": "Lovelace"}})]
    assert row["status"] == "registering", "the row passed in was changed"
    encodes_decision(decision)


def test_denied_claim_rejects_the_registration_as_email_taken_without_an_event():
    decision = customers.on_claim_result(registering(), claim_result("ada@example.com", False), NOW + 1, AT)
    new = decision.row
    assert new is not None
    assert (new["status"], new["rejectReason"]) == ("rejected", "email_taken")
    assert decision.events == [] and decision.claims == []
    encodes_decision(decision)


def test_denied_claim_without_a_reason_still_rejects_as_email_taken():
    result = {**claim_result("ada@example.com", False), "reason": None}
    new = customers.on_claim_result(registering(), result, NOW + 1, AT).row
    assert new is not None and new["rejectReason"] == "email_taken"


def test_claim_result_for_an_unknown_customer_changes_nothing():
    assert customers.on_claim_result(None, claim_result("ada@example.com", True), NOW, AT) == \
        customers.CustomerDecision()


def test_repeated_granted_claim_after_activation_changes_nothing():
    row = active()
    assert customers.on_claim_result(row, claim_result("ada@example.com", True), NOW + 9, AT) == \
        customers.CustomerDecision()


def test_late_denial_of_an_active_customers_address_changes_nothing():
    row = active()
    assert customers.on_claim_result(row, claim_result("ada@example.com", False), NOW + 9, AT) == \
        customers.CustomerDecision()


def test_claim_result_for_another_address_leaves_a_registration_pending():
    row = registering()
    assert customers.on_claim_result(row, claim_result("someone@else.example", True), NOW + 1, AT) == \
        customers.CustomerDecision()


def test_claim_result_after_a_rejected_registration_changes_nothing():
    rejected = customers.on_claim_result(registering(), claim_result("ada@example.com", False), NOW + 1, AT).row
    assert rejected is not None
    assert customers.on_claim_result(rejected, claim_result("ada@example.com", True), NOW + 2, AT) == \
        customers.CustomerDecision()


# --- update without an email change ----------------------------------------------------

def test_update_applies_at_once_and_names_exactly_the_changed_fields():
    row = active()
    new_address = {**ADDRESS, "city": "Shelbyville"}
    # lastName is the same as before, so it is not a change
    cmd = update_customer(firstName="Augusta", lastName="Lovelace", address=new_address)
    decision = customers.update(row, cmd, NOW + 2, AT)
    new = decision.row
    assert new is not None
    assert (new["firstName"], new["lastName"], new["address"]) == ("Augusta", "Lovelace", new_address)
    assert (new["revision"], new["updatedAt"], new["email"]) == (row["revision"] + 1, NOW + 2, "ada@example.com")
    assert decision.claims == []
    assert decision.events == [("CustomerUpdated", {
        "eventId": f"evt_cust_1_{new['revision']}", "eventType": "CustomerUpdated", "timestamp": AT,
        "version": "1.0", "data": {"customerId": "cust_1", "updatedFields": ["firstName", "address"]}})]
    encodes_decision(decision)


def test_update_with_the_same_email_in_other_case_is_not_an_email_change():
    decision = customers.update(active(), update_customer(email=" ADA@example.com", phone="+1 555 0199"),
                                NOW + 2, AT)
    assert decision.row is not None and decision.row["pendingUpdate"] is None
    assert decision.claims == []
    assert decision.events[0][1]["data"]["updatedFields"] == ["phone"]


def test_update_that_changes_nothing_leaves_the_row_unchanged():
    row = active()
    assert customers.update(row, update_customer(), NOW + 2, AT) == customers.CustomerDecision()
    same = update_customer(firstName="Ada", lastName="Lovelace", phone="+1 555 0100", address=copy.deepcopy(ADDRESS),
                           email="ada@example.com")
    assert customers.update(row, same, NOW + 2, AT) == customers.CustomerDecision()


@pytest.mark.parametrize("state", ["unknown", "registering", "rejected"])
def test_update_of_a_customer_that_is_not_active_changes_nothing(state: str):
    row: Row | None = None
    if state == "registering":
        row = registering()
    elif state == "rejected":
        row = customers.on_claim_result(registering(), claim_result("ada@example.com", False), NOW + 1, AT).row
    assert customers.update(row, update_customer(firstName="Augusta"), NOW + 2, AT) == customers.CustomerDecision()


# --- update with a new email -----------------------------------------------------------

def test_update_with_a_new_email_waits_for_its_claim_and_changes_nothing_else_yet():
    row = active()
    cmd = update_customer(email="Ada@New.Example", firstName="Augusta")
    decision = customers.update(row, cmd, NOW + 2, AT)
    new = decision.row
    assert new is not None
    assert new["pendingUpdate"] == cmd
    assert (new["email"], new["firstName"]) == ("ada@example.com", "Ada")
    assert decision.claims == [("ClaimEmail", {"email": "ada@new.example", "customerId": "cust_1"})]
    assert decision.events == []
    encodes_decision(decision)


def test_second_update_while_an_email_change_is_pending_changes_nothing():
    row = pending_email_change()
    assert customers.update(row, update_customer(firstName="Augusta"), NOW + 3, AT) == customers.CustomerDecision()
    assert customers.update(row, update_customer(email="third@example.com"), NOW + 3, AT) == \
        customers.CustomerDecision()


def test_granted_email_change_applies_the_update_and_releases_the_old_address():
    row = active()
    cmd = update_customer(email="Ada@New.Example", firstName="Augusta")
    pending = customers.update(row, cmd, NOW + 2, AT).row
    assert pending is not None
    decision = customers.on_claim_result(pending, claim_result("ada@new.example", True), NOW + 3, AT)
    new = decision.row
    assert new is not None
    assert (new["email"], new["firstName"], new["pendingUpdate"], new["lastUpdateError"]) == (
        "ada@new.example", "Augusta", None, None)
    assert new["revision"] == pending["revision"] + 1
    assert decision.claims == [("ReleaseEmail", {"email": "ada@example.com", "customerId": "cust_1"})]
    assert len(decision.events) == 1
    kind, event = decision.events[0]
    assert kind == "CustomerUpdated"
    assert sorted(event["data"]["updatedFields"]) == ["email", "firstName"]
    assert event["eventId"] == f"evt_cust_1_{new['revision']}"
    encodes_decision(decision)


def test_denied_email_change_clears_the_pending_update_and_records_email_taken():
    pending = pending_email_change()
    decision = customers.on_claim_result(pending, claim_result("ada@new.example", False), NOW + 3, AT)
    new = decision.row
    assert new is not None
    assert (new["email"], new["pendingUpdate"], new["lastUpdateError"]) == ("ada@example.com", None, "email_taken")
    assert decision.claims == [] and decision.events == []
    encodes_decision(decision)


def test_after_a_denied_email_change_a_new_update_is_accepted_and_clears_the_error():
    pending = pending_email_change()
    denied = customers.on_claim_result(pending, claim_result("ada@new.example", False), NOW + 3, AT).row
    assert denied is not None
    new = customers.update(denied, update_customer(phone="+1 555 0199"), NOW + 4, AT).row
    assert new is not None and new["phone"] == "+1 555 0199" and new["lastUpdateError"] is None


def test_stale_claim_result_for_another_address_leaves_the_pending_change_alone():
    pending = pending_email_change("ada@new.example")
    assert customers.on_claim_result(pending, claim_result("old@other.example", True), NOW + 3, AT) == \
        customers.CustomerDecision()
    assert customers.on_claim_result(pending, claim_result("old@other.example", False), NOW + 3, AT) == \
        customers.CustomerDecision()


def test_repeated_claim_result_after_the_change_was_applied_changes_nothing():
    pending = pending_email_change("ada@new.example")
    applied = customers.on_claim_result(pending, claim_result("ada@new.example", True), NOW + 3, AT).row
    assert applied is not None
    for granted in (True, False):
        assert customers.on_claim_result(applied, claim_result("ada@new.example", granted), NOW + 4, AT) == \
            customers.CustomerDecision()


def test_repeated_denial_after_the_change_was_refused_changes_nothing():
    pending = pending_email_change("ada@new.example")
    denied = customers.on_claim_result(pending, claim_result("ada@new.example", False), NOW + 3, AT).row
    assert denied is not None
    assert customers.on_claim_result(denied, claim_result("ada@new.example", False), NOW + 4, AT) == \
        customers.CustomerDecision()


# --- the email owners: claim and release -----------------------------------------------

def test_claim_of_a_free_address_is_granted_and_records_the_holder():
    owner, result = customers.claim(None, {"email": "ada@example.com", "customerId": "cust_1"})
    assert owner == {"email": "ada@example.com", "customerId": "cust_1"}
    assert result == {"customerId": "cust_1", "email": "ada@example.com", "granted": True, "reason": None}
    encodes("EmailOwner", owner)
    encodes("EmailClaimResult", result)


def test_claim_by_the_holder_again_is_granted_without_changing_the_owner():
    holder = {"email": "ada@example.com", "customerId": "cust_1"}
    owner, result = customers.claim(holder, {"email": "ada@example.com", "customerId": "cust_1"})
    assert owner is None
    assert result == {"customerId": "cust_1", "email": "ada@example.com", "granted": True, "reason": None}


def test_claim_of_an_address_another_customer_holds_is_denied_as_email_taken():
    holder = {"email": "ada@example.com", "customerId": "cust_1"}
    owner, result = customers.claim(holder, {"email": "ada@example.com", "customerId": "cust_2"})
    assert owner is None
    assert result == {"customerId": "cust_2", "email": "ada@example.com", "granted": False, "reason": "email_taken"}
    encodes("EmailClaimResult", result)


def test_release_frees_the_address_only_for_its_holder():
    holder = {"email": "ada@example.com", "customerId": "cust_1"}
    assert customers.release(holder, {"email": "ada@example.com", "customerId": "cust_1"}) is True
    assert customers.release(holder, {"email": "ada@example.com", "customerId": "cust_2"}) is False
    assert customers.release(None, {"email": "ada@example.com", "customerId": "cust_1"}) is False


# --- admit: the customer check of an order ---------------------------------------------

@pytest.mark.parametrize("state", ["unknown", "registering", "rejected"])
def test_admit_rejects_a_customer_that_is_not_active_as_unknown_customer_when_required(state: str):
    customer: Row | None = None
    if state == "registering":
        customer = registering()
    elif state == "rejected":
        customer = {**active(), "status": "rejected"}
    assert customers.admit(customer, EMPTY_WINDOW, 100, LIMITS) == (False, "unknown_customer", None)


@pytest.mark.parametrize("state", ["unknown", "registering"])
def test_admit_passes_a_customer_that_is_not_active_when_not_required(state: str):
    customer = registering() if state == "registering" else None
    limits = customers.Limits(require_known_customer=False, max_orders=3, max_amount_cents=10_000)
    passed, reason, window = customers.admit(customer, EMPTY_WINDOW, 100, limits)
    assert (passed, reason, window) == (True, None, {"orders": 1, "amountCents": 100})


def test_admit_passes_an_active_customer_and_counts_the_order_in_the_window():
    window = {"orders": 1, "amountCents": 2_000}
    passed, reason, new_window = customers.admit(active(), window, 500, LIMITS)
    assert (passed, reason, new_window) == (True, None, {"orders": 2, "amountCents": 2_500})
    assert window == {"orders": 1, "amountCents": 2_000}, "the window passed in was changed"
    encodes("VelocityWindow", new_window)


def test_admit_passes_the_order_that_reaches_the_order_limit_exactly():
    window = {"orders": LIMITS.max_orders - 1, "amountCents": 0}
    assert customers.admit(active(), window, 1, LIMITS) == (
        True, None, {"orders": LIMITS.max_orders, "amountCents": 1})


def test_admit_rejects_the_order_one_over_the_order_limit_and_keeps_the_window():
    window = {"orders": LIMITS.max_orders, "amountCents": 0}
    assert customers.admit(active(), window, 1, LIMITS) == (False, "velocity_limit", None)


def test_admit_passes_the_order_that_reaches_the_amount_limit_exactly():
    window = {"orders": 0, "amountCents": 4_000}
    assert customers.admit(active(), window, LIMITS.max_amount_cents - 4_000, LIMITS) == (
        True, None, {"orders": 1, "amountCents": LIMITS.max_amount_cents})


def test_admit_rejects_the_order_one_cent_over_the_amount_limit_and_keeps_the_window():
    window = {"orders": 0, "amountCents": 4_000}
    assert customers.admit(active(), window, LIMITS.max_amount_cents - 4_000 + 1, LIMITS) == (
        False, "velocity_limit", None)


def test_a_rejected_order_does_not_use_up_the_window():
    limits = customers.Limits(require_known_customer=True, max_orders=2, max_amount_cents=1_000)
    customer, window = active(), dict(EMPTY_WINDOW)
    outcomes = []
    for amount in (600, 500, 400, 1):  # the 500 would exceed the amount limit
        passed, reason, new_window = customers.admit(customer, window, amount, limits)
        outcomes.append((passed, reason))
        window = new_window if new_window is not None else window
    assert outcomes == [(True, None), (False, "velocity_limit"), (True, None), (False, "velocity_limit")]
    assert window == {"orders": 2, "amountCents": 1_000}


# --- notifications ---------------------------------------------------------------------

def order_summary(status: str, total: int | None = 4498) -> dict[str, Any]:
    return {"orderId": "ord_1", "customerId": "cust_1", "status": status, "totalCents": total,
            "currency": "EUR", "createdAt": NOW, "updatedAt": NOW + 5, "revision": 4}


@pytest.mark.parametrize("status", sorted(CUSTOMER_FACING))
def test_each_customer_facing_status_gets_one_email_to_the_customer(status: str):
    customer = active()
    notification = customers.notification_for(order_summary(status), customer, NOW + 10)
    assert notification is not None
    assert notification == {
        "notificationId": f"ntf_ord_1_{status}", "customerId": "cust_1", "channel": "email",
        "recipient": "ada@example.com", "template": f"order_{status}",
        "fields": {"orderId": "ord_1", "status": status, "firstName": "Ada", "currency": "EUR",
                   "totalAmount": "44.98"},
        "createdAt": NOW + 10}
    encodes("Notification", notification)
    encodes("OrderSummary", order_summary(status))


def test_the_customer_facing_statuses_are_the_outcomes_and_shipment_steps():
    assert {"confirmed", "rejected", "payment_failed", "shipped", "delivered", "cancelled"} == CUSTOMER_FACING


@pytest.mark.parametrize("status", [PENDING, PENDING_PAYMENT])
def test_statuses_that_are_not_customer_facing_get_no_notification(status: str):
    assert customers.notification_for(order_summary(status), active(), NOW) is None


@pytest.mark.parametrize("state", ["unknown", "registering", "rejected"])
def test_a_customer_that_is_not_active_gets_no_notification(state: str):
    customer: Row | None = None
    if state == "registering":
        customer = registering()
    elif state == "rejected":
        customer = {**active(), "status": "rejected"}
    assert customers.notification_for(order_summary("confirmed"), customer, NOW) is None


def test_a_notification_without_a_total_leaves_the_amount_out():
    notification = customers.notification_for(order_summary("rejected", total=None), active(), NOW)
    assert notification is not None
    assert "totalAmount" not in notification["fields"]
    encodes("Notification", notification)


def test_the_notification_id_is_the_same_whenever_the_transition_is_seen_again():
    first = customers.notification_for(order_summary("shipped"), active(), NOW)
    again = customers.notification_for(order_summary("shipped"), active(), NOW + 60_000)
    assert first is not None and again is not None
    assert first["notificationId"] == again["notificationId"] == "ntf_ord_1_shipped"
    other = customers.notification_for(order_summary("delivered"), active(), NOW)
    assert other is not None and other["notificationId"] != first["notificationId"]


def test_the_notification_goes_to_the_current_email_after_a_change():
    pending = pending_email_change("ada@new.example")
    changed = customers.on_claim_result(pending, claim_result("ada@new.example", True), NOW + 3, AT).row
    notification = customers.notification_for(order_summary("confirmed"), changed, NOW + 4)
    assert notification is not None and notification["recipient"] == "ada@new.example"
