"""Handlers of specs/order_flow.yaml: an order validated, priced, reserved, paid, packed and shipped.

Module-level dictionaries stand in for the services a real shop would call: the catalogue, the
warehouse stock, the payment gateway's ledger, the carrier and the mail outbox. `reset()` puts
them back as they started (tests call it).

SWF delivers an activity task at least once: an attempt that timed out may have finished its work
after all, and its retry must not do it twice. So every handler with an effect is idempotent,
keyed by the order id, and every revert undoes its forward handler's effect exactly once.

Output types come from the generated package (generated/order_flow/types.py), so mypy holds each
handler to the spec through `order_flow.types.Handlers`; they are imported only for type checking,
and a worker needs nothing but this module. A revert handler receives the forward handler's inputs
plus `result`, the output it is to undo.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    # Handlers depend on the generated package's types, never the reverse.
    from order_flow.types import (
        AwardLoyaltyPointsOutput,
        ChargePaymentOutput,
        CloseOrderOutput,
        CreateShipmentOutput,
        PickAndPackOutput,
        PriceOrderOutput,
        ReserveInventoryOutput,
        SendConfirmationEmailOutput,
        ValidateOrderOutput,
    )

# -- the in-memory services ------------------------------------------------------------------

CURRENCY = "EUR"
#: SKU -> unit price in cents.
CATALOG: dict[str, int] = {"BOOK-001": 1899, "MUG-002": 1250, "LAMP-003": 4599, "PEN-004": 299}
#: SKU -> weight of one unit in grams.
WEIGHTS: dict[str, int] = {"BOOK-001": 450, "MUG-002": 380, "LAMP-003": 1700, "PEN-004": 20}
#: coupon code -> percentage off the subtotal.
COUPONS: dict[str, int] = {"WELCOME10": 10, "SPRING25": 25}
#: customer id -> what a single card payment may be at most, in cents.
CARD_LIMITS: dict[str, int] = {"cus-alice": 100_000, "cus-bob": 5_000}
#: customer id -> e-mail address; customers without one get no confirmation.
EMAILS: dict[str, str] = {"cus-alice": "alice@example.com"}
FREE_SHIPPING_FROM = 5_000
SHIPPING_FEE = 499
POINTS_PER_EURO = 1

_INITIAL_STOCK: dict[str, int] = {"BOOK-001": 20, "MUG-002": 5, "LAMP-003": 2, "PEN-004": 500}
STOCK: dict[str, int] = dict(_INITIAL_STOCK)
#: order id -> the quantities held for it.
RESERVATIONS: dict[str, dict[str, int]] = {}
#: payment id -> {"order_id", "customer_id", "amount_cents", "refunded_cents"}.
PAYMENTS: dict[str, dict[str, Any]] = {}
#: shipment id -> {"order_id", "parcel_id", "carrier", "status"}.
SHIPMENTS: dict[str, dict[str, Any]] = {}
#: customer id -> loyalty point balance; order id -> points awarded for it.
LOYALTY: dict[str, int] = {}
AWARDS: dict[str, int] = {}
#: e-mails sent, in order, as (message id, address, body).
OUTBOX: list[tuple[str, str, str]] = []
#: handler name -> errors its next calls raise, one per call (simulates flaky services).
FAULTS: dict[str, list[Exception]] = {}


def reset() -> None:
    """Restore every service to its starting state."""
    STOCK.clear()
    STOCK.update(_INITIAL_STOCK)
    for store in (RESERVATIONS, PAYMENTS, SHIPMENTS, LOYALTY, AWARDS, FAULTS):
        store.clear()
    OUTBOX.clear()


def fail_next(handler: str, *errors: Exception) -> None:
    """Make the next calls of `handler` raise these errors, one per call."""
    FAULTS.setdefault(handler, []).extend(errors)


def _maybe_fail(handler: str) -> None:
    pending = FAULTS.get(handler)
    if pending:
        raise pending.pop(0)


def _short_id(prefix: str, *parts: object) -> str:
    digest = hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()
    return f"{prefix}-{digest[:12]}"


# -- errors: their class names are what `retry.errors` in the spec matches ---------------------


class OrderRejected(ValueError):
    """The order cannot be taken as placed (unknown SKU, bad quantity). Final."""


class OutOfStock(Exception):
    """Not enough stock for the order. Final: retrying does not make stock."""


class InventoryLocked(Exception):
    """The stock rows are locked by another order. Retried (see the spec)."""


class PaymentDeclined(Exception):
    """The card was declined. Final: the workflow fails and reverts what it did."""


class GatewayTimeout(Exception):
    """The payment gateway did not answer. Retried (see the spec)."""


class NoEmailAddress(Exception):
    """The customer left no address; the activity has on_failure: continue."""


class Context(Protocol):
    """The part of the running task's context these handlers use."""

    def heartbeat(self, details: str) -> None: ...


# -- handlers, in the spec's order -------------------------------------------------------------


def validate_order(order_id: str, items: dict[str, int], placed_at: datetime.datetime) -> ValidateOrderOutput:
    """Check the basket against the catalogue and add up its price."""
    if not items:
        raise OrderRejected(f"order {order_id} has no items")
    unknown = sorted(sku for sku in items if sku not in CATALOG)
    if unknown:
        raise OrderRejected(f"order {order_id}: unknown SKU {', '.join(unknown)}")
    bad = sorted(sku for sku, quantity in items.items() if quantity < 1)
    if bad:
        raise OrderRejected(f"order {order_id}: quantity below 1 for {', '.join(bad)}")
    if placed_at.tzinfo is None:
        raise OrderRejected(f"order {order_id}: placed_at {placed_at.isoformat()} has no time zone")
    subtotal = sum(CATALOG[sku] * quantity for sku, quantity in items.items())
    return {"subtotal_cents": subtotal, "currency": CURRENCY, "skus": sorted(items)}


def price_order(subtotal_cents: int, coupon: str | None, customer_id: str) -> PriceOrderOutput:
    """Apply the coupon (an unknown one is ignored) and the shipping fee."""
    percent = COUPONS.get(coupon, 0) if coupon is not None else 0
    discount = subtotal_cents * percent // 100
    shipping = 0 if subtotal_cents - discount >= FREE_SHIPPING_FROM else SHIPPING_FEE
    return {"total_cents": subtotal_cents - discount + shipping, "discount_cents": discount}


def reserve_inventory(order_id: str, items: dict[str, int]) -> ReserveInventoryOutput:
    """Hold the stock for the order; a second call for the same order holds nothing more."""
    _maybe_fail("reserve_inventory")
    reservation_id = _short_id("rsv", order_id)
    if order_id in RESERVATIONS:
        return {"reservation_id": reservation_id, "reserved": dict(RESERVATIONS[order_id])}
    short = sorted(sku for sku, quantity in items.items() if STOCK.get(sku, 0) < quantity)
    if short:
        raise OutOfStock(f"order {order_id}: not enough {', '.join(short)}")
    for sku, quantity in items.items():
        STOCK[sku] -= quantity
    RESERVATIONS[order_id] = dict(items)
    return {"reservation_id": reservation_id, "reserved": dict(items)}


def release_inventory(order_id: str, items: dict[str, int], result: ReserveInventoryOutput) -> None:
    """Revert of reserve_inventory: put the reserved stock back (once)."""
    held = RESERVATIONS.pop(order_id, None)
    if held is None:
        return
    for sku, quantity in result["reserved"].items():
        STOCK[sku] = STOCK.get(sku, 0) + quantity


def charge_payment(order_id: str, customer_id: str, amount_cents: int, currency: str) -> ChargePaymentOutput:
    """Capture the amount; the payment id is derived from the order, so a retry finds it."""
    _maybe_fail("charge_payment")
    payment_id = _short_id("pay", order_id)
    if payment_id in PAYMENTS:
        return {"payment_id": payment_id, "charged_cents": PAYMENTS[payment_id]["amount_cents"]}
    limit = CARD_LIMITS.get(customer_id, 0)
    if amount_cents > limit:
        raise PaymentDeclined(
            f"card of {customer_id} declined for {amount_cents / 100:.2f} {currency} (limit {limit / 100:.2f})"
        )
    PAYMENTS[payment_id] = {
        "order_id": order_id,
        "customer_id": customer_id,
        "amount_cents": amount_cents,
        "currency": currency,
        "refunded_cents": 0,
    }
    return {"payment_id": payment_id, "charged_cents": amount_cents}


def refund_payment(
    order_id: str, customer_id: str, amount_cents: int, currency: str, result: ChargePaymentOutput
) -> None:
    """Revert of charge_payment: refund what was charged and not refunded yet."""
    payment = PAYMENTS[result["payment_id"]]
    payment["refunded_cents"] = result["charged_cents"]


def pick_and_pack(order_id: str, reservation: ReserveInventoryOutput, context: Context) -> PickAndPackOutput:
    """Pack the reserved items, heartbeating after each SKU so SWF knows the station is alive.

    `context` is the running task's context (the generated package's TaskContext).
    """
    weight = 0
    for sku, quantity in sorted(reservation["reserved"].items()):
        weight += WEIGHTS[sku] * quantity
        context.heartbeat(f"packed {quantity} x {sku}")
    return {"parcel_id": _short_id("pcl", reservation["reservation_id"]), "weight_grams": weight}


def create_shipment(
    order_id: str, address: str, parcel_id: str, weight_grams: int, carrier: str
) -> CreateShipmentOutput:
    """Book the carrier; heavier parcels travel slower."""
    _maybe_fail("create_shipment")
    shipment_id = _short_id("shp", order_id, parcel_id)
    tracking = f"{carrier[:3].upper()}{int(shipment_id[4:], 16) % 10**10:010d}"
    if shipment_id not in SHIPMENTS:
        SHIPMENTS[shipment_id] = {
            "order_id": order_id,
            "parcel_id": parcel_id,
            "address": address,
            "carrier": carrier,
            "status": "booked",
        }
    eta_days = 2 if weight_grams <= 2_000 else 4
    return {"shipment_id": shipment_id, "tracking_number": tracking, "eta_days": eta_days}


def cancel_shipment(
    order_id: str, address: str, parcel_id: str, weight_grams: int, carrier: str, result: CreateShipmentOutput
) -> None:
    """Revert of create_shipment: cancel the booking."""
    SHIPMENTS[result["shipment_id"]]["status"] = "cancelled"


def send_confirmation_email(
    order_id: str, customer_id: str, tracking_number: str, total_cents: int
) -> SendConfirmationEmailOutput:
    """Queue the confirmation; a customer without an address makes this fail (best effort)."""
    address = EMAILS.get(customer_id)
    if address is None:
        raise NoEmailAddress(f"customer {customer_id} has no e-mail address")
    message_id = _short_id("msg", order_id, "confirmation")
    if all(sent[0] != message_id for sent in OUTBOX):
        body = f"Order {order_id}: {total_cents / 100:.2f} {CURRENCY} paid, tracking {tracking_number}."
        OUTBOX.append((message_id, address, body))
    return {"message_id": message_id}


def award_loyalty_points(order_id: str, customer_id: str, charged_cents: int) -> AwardLoyaltyPointsOutput:
    """One point per whole euro charged, awarded once per order."""
    if order_id not in AWARDS:
        AWARDS[order_id] = charged_cents // 100 * POINTS_PER_EURO
        LOYALTY[customer_id] = LOYALTY.get(customer_id, 0) + AWARDS[order_id]
    return {"points": AWARDS[order_id], "balance": LOYALTY[customer_id]}


def close_order(
    order_id: str,
    payment: ChargePaymentOutput,
    tracking_number: str,
    confirmation_id: str | None,
    loyalty: AwardLoyaltyPointsOutput | None,
) -> CloseOrderOutput:
    """Sum up; the best-effort steps arrive as None when they ran out of retries."""
    missing = [
        what
        for what, value in (("confirmation e-mail", confirmation_id), ("loyalty points", loyalty))
        if value is None
    ]
    summary = f"order {order_id}: paid {payment['charged_cents'] / 100:.2f}, tracking {tracking_number}"
    if loyalty is not None:
        summary += f", +{loyalty['points']} points"
    if missing:
        summary += f"; not done: {', '.join(missing)}"
    return {"status": "completed_with_warnings" if missing else "completed", "summary": summary}


def snapshot() -> dict[str, Any]:
    """A deep copy of every service's state, for comparing before and after."""
    return copy.deepcopy(
        {
            "stock": STOCK,
            "reservations": RESERVATIONS,
            "payments": PAYMENTS,
            "shipments": SHIPMENTS,
            "loyalty": LOYALTY,
            "outbox": OUTBOX,
        }
    )
