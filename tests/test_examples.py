"""The example handlers: each called with realistic arguments, and each held to its spec.

The signature test reads every spec in specs/ through flowgen's own checks and compares each
handler's parameters and type hints with what the spec's references resolve to, as the generated
`Handlers` type will.
"""

from __future__ import annotations

import datetime
import importlib
import inspect
import pathlib
import sys
import types
import typing
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from examples import etl, order_flow
from flowgen.compiler import compile_spec
from flowgen.spec.types import TypeRef

if TYPE_CHECKING:
    from order_flow.types import ChargePaymentOutput
    from regional_etl.types import QualityCheckOutput

ROOT = pathlib.Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "specs").glob("*.yaml")) + sorted((ROOT / "specs").glob("*.json"))
GENERATED = ROOT / "generated"


class FakeContext:
    """Stands in for the running task's context: records heartbeats."""

    def __init__(self) -> None:
        self.heartbeats: list[str] = []

    def heartbeat(self, details: str) -> None:
        self.heartbeats.append(details)


# -- every handler matches its spec ------------------------------------------------------------


def _handler(path: str) -> Callable[..., Any]:
    module, name = path.split(":")
    function: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return function


def _hints(function: Callable[..., Any], workflow: str) -> dict[str, Any]:
    """Type hints, with the generated package's types that handlers import only for mypy."""
    names: dict[str, Any] = {}
    if (GENERATED / workflow / "types.py").exists():
        if str(GENERATED) not in sys.path:
            sys.path.append(str(GENERATED))
        names = dict(vars(importlib.import_module(f"{workflow}.types")))
        names.update(vars(importlib.import_module(f"{workflow}.engine.task")))
    return typing.get_type_hints(function, localns=names)


def _python_type(expr: TypeRef) -> Any:
    """The Python type a handler sees for a spec type (records are compared separately)."""
    scalars: dict[str, Any] = {
        "str": str,
        "int": int,
        "float": float,
        "bool": bool,
        "date": datetime.date,
        "datetime": datetime.datetime,
        "any": Any,
        "none": type(None),
    }
    if expr.kind in scalars:
        return scalars[expr.kind]
    assert expr.item is not None
    if expr.kind == "list":
        return list[_python_type(expr.item)]  # type: ignore[misc]
    if expr.kind == "dict":
        return dict[str, _python_type(expr.item)]  # type: ignore[misc]
    assert expr.kind == "optional"
    return _python_type(expr.item) | None


def _matches(hint: Any, expr: TypeRef) -> bool:
    if expr.kind == "record":
        if typing.get_origin(hint) is dict:
            # dict[str, T] when every output is a T (examples/country_flow.py returns those).
            key, value = typing.get_args(hint)
            return key is str and all(_matches(value, field) for _, field in expr.fields)
        # A TypedDict with exactly the declared outputs, each of the declared type.
        fields = typing.get_type_hints(hint) if typing.is_typeddict(hint) else None
        return (
            fields is not None
            and set(fields) == {name for name, _ in expr.fields}
            and all(_matches(fields[name], field) for name, field in expr.fields)
        )
    if expr.kind in ("list", "dict", "optional"):
        assert expr.item is not None
        origin = typing.get_origin(hint)
        args = typing.get_args(hint)
        if expr.kind == "optional":
            if origin not in (typing.Union, types.UnionType) or type(None) not in args:
                return False
            rest = [a for a in args if a is not type(None)]
            return len(rest) == 1 and _matches(rest[0], expr.item)
        if origin is not (list if expr.kind == "list" else dict):
            return False
        return _matches(args[-1], expr.item) and (expr.kind == "list" or args[0] is str)
    return bool(hint == _python_type(expr))


def _handlers() -> Iterator[tuple[str, str, str, bool]]:
    """(spec, activity, handler path, is revert) for every handler every spec names."""
    for spec in SPECS:
        compiled = compile_spec(str(spec))
        assert compiled.checked is not None, [d.render() for d in compiled.diagnostics]
        for name, activity in compiled.checked.spec.activities.items():
            if activity.handler:
                yield spec.name, name, activity.handler, False
            if activity.revert:
                yield spec.name, name, activity.revert, True


@pytest.mark.parametrize(
    ("spec", "activity", "path", "revert"), list(_handlers()), ids=lambda v: str(v).split(":")[-1]
)
def test_handler_signature_matches_the_spec(spec: str, activity: str, path: str, revert: bool) -> None:
    checked = compile_spec(str(ROOT / "specs" / spec)).checked
    assert checked is not None
    declared = checked.spec.activities[activity]
    expected = dict(checked.analysis.activities[activity].inputs)
    function = _handler(path)
    hints = _hints(function, checked.spec.workflow.name)
    parameters = inspect.signature(function).parameters
    names = [n for n in parameters if n != "context"]
    assert sorted(names) == sorted([*expected, *(["result"] if revert else [])])
    for name in expected:
        assert _matches(
            hints[name], expected[name]
        ), f"{path}: {name} is {hints[name]}, spec says {expected[name]}"
        assert parameters[name].kind is not inspect.Parameter.POSITIONAL_ONLY
    outputs = TypeRef("record", name=activity, fields=tuple(declared.outputs.items()))
    if revert:
        assert _matches(hints["result"], outputs)
        assert hints["return"] is type(None)
    elif declared.outputs:
        assert _matches(hints["return"], outputs), f"{path} returns {hints['return']}"
    else:
        assert hints["return"] is type(None)


def test_every_spec_handler_is_covered() -> None:
    modules = {path.split(":")[0] for _, _, path, _ in _handlers()}
    assert {"examples.order_flow", "examples.etl", "examples.country_flow"} <= modules


# -- order_flow --------------------------------------------------------------------------------

PLACED_AT = datetime.datetime(2024, 6, 3, 9, 30, tzinfo=datetime.UTC)
BASKET = {"BOOK-001": 2, "MUG-002": 1}


@pytest.fixture(autouse=True)
def _fresh_shop() -> Iterator[None]:
    order_flow.reset()
    yield
    order_flow.reset()


def test_validate_order_prices_the_basket() -> None:
    out = order_flow.validate_order(order_id="o-1", items=BASKET, placed_at=PLACED_AT)
    assert out == {"subtotal_cents": 2 * 1899 + 1250, "currency": "EUR", "skus": ["BOOK-001", "MUG-002"]}


@pytest.mark.parametrize(
    ("items", "placed_at", "message"),
    [
        ({}, PLACED_AT, "no items"),
        ({"SOCK-999": 1}, PLACED_AT, "unknown SKU SOCK-999"),
        ({"PEN-004": 0}, PLACED_AT, "quantity below 1 for PEN-004"),
        (BASKET, PLACED_AT.replace(tzinfo=None), "has no time zone"),
    ],
)
def test_validate_order_rejects(items: dict[str, int], placed_at: datetime.datetime, message: str) -> None:
    with pytest.raises(order_flow.OrderRejected, match=message):
        order_flow.validate_order(order_id="o-1", items=items, placed_at=placed_at)


def test_price_order_applies_coupon_and_shipping() -> None:
    assert order_flow.price_order(subtotal_cents=5048, coupon=None, customer_id="cus-alice") == {
        "total_cents": 5048,
        "discount_cents": 0,
    }
    # 10% off takes it below free shipping.
    assert order_flow.price_order(subtotal_cents=5048, coupon="WELCOME10", customer_id="cus-alice") == {
        "total_cents": 5048 - 504 + 499,
        "discount_cents": 504,
    }
    assert order_flow.price_order(subtotal_cents=1000, coupon="NOPE", customer_id="cus-bob") == {
        "total_cents": 1499,
        "discount_cents": 0,
    }


def test_reserve_inventory_is_idempotent_and_release_undoes_it() -> None:
    before = order_flow.snapshot()
    first = order_flow.reserve_inventory(order_id="o-1", items=BASKET)
    again = order_flow.reserve_inventory(order_id="o-1", items=BASKET)
    assert first == again
    assert first["reservation_id"].startswith("rsv-")
    assert order_flow.STOCK["BOOK-001"] == 18 and order_flow.STOCK["MUG-002"] == 4
    order_flow.release_inventory(order_id="o-1", items=BASKET, result=first)
    assert order_flow.snapshot() == before
    order_flow.release_inventory(order_id="o-1", items=BASKET, result=first)  # a repeated revert
    assert order_flow.snapshot() == before


def test_reserve_inventory_out_of_stock_and_locked() -> None:
    with pytest.raises(order_flow.OutOfStock, match="LAMP-003"):
        order_flow.reserve_inventory(order_id="o-2", items={"LAMP-003": 3})
    assert order_flow.STOCK["LAMP-003"] == 2
    order_flow.fail_next("reserve_inventory", order_flow.InventoryLocked("row lock"))
    with pytest.raises(order_flow.InventoryLocked):
        order_flow.reserve_inventory(order_id="o-2", items={"LAMP-003": 1})
    assert order_flow.reserve_inventory(order_id="o-2", items={"LAMP-003": 1})["reserved"] == {"LAMP-003": 1}


def test_charge_payment_and_refund_undoes_it() -> None:
    payment = order_flow.charge_payment(
        order_id="o-1", customer_id="cus-alice", amount_cents=5048, currency="EUR"
    )
    assert payment["charged_cents"] == 5048
    assert (
        order_flow.charge_payment(order_id="o-1", customer_id="cus-alice", amount_cents=5048, currency="EUR")
        == payment
    ), "a retry must not charge twice"
    assert len(order_flow.PAYMENTS) == 1
    order_flow.refund_payment(
        order_id="o-1", customer_id="cus-alice", amount_cents=5048, currency="EUR", result=payment
    )
    record = order_flow.PAYMENTS[payment["payment_id"]]
    assert record["amount_cents"] - record["refunded_cents"] == 0


def test_charge_payment_declines_over_the_limit_and_times_out_when_told() -> None:
    with pytest.raises(order_flow.PaymentDeclined, match="cus-bob"):
        order_flow.charge_payment(order_id="o-3", customer_id="cus-bob", amount_cents=9999, currency="EUR")
    order_flow.fail_next("charge_payment", order_flow.GatewayTimeout("no answer in 30s"))
    with pytest.raises(order_flow.GatewayTimeout):
        order_flow.charge_payment(order_id="o-3", customer_id="cus-bob", amount_cents=999, currency="EUR")
    assert order_flow.PAYMENTS == {}


def test_pick_and_pack_heartbeats_per_sku() -> None:
    reservation = order_flow.reserve_inventory(order_id="o-1", items=BASKET)
    context = FakeContext()
    parcel = order_flow.pick_and_pack(order_id="o-1", reservation=reservation, context=context)
    assert parcel["weight_grams"] == 2 * 450 + 380
    assert parcel["parcel_id"].startswith("pcl-")
    assert context.heartbeats == ["packed 2 x BOOK-001", "packed 1 x MUG-002"]


def test_create_shipment_and_cancel_undoes_it() -> None:
    kwargs: dict[str, Any] = {
        "order_id": "o-1",
        "address": "1 Rue de la Paix, Paris",
        "parcel_id": "pcl-1",
        "weight_grams": 1280,
        "carrier": "parcelnet",
    }
    shipment = order_flow.create_shipment(**kwargs)
    assert shipment["tracking_number"].startswith("PAR") and len(shipment["tracking_number"]) == 13
    assert shipment["eta_days"] == 2
    assert order_flow.create_shipment(**kwargs) == shipment
    assert order_flow.create_shipment(**{**kwargs, "weight_grams": 2500})["eta_days"] == 4
    order_flow.cancel_shipment(**kwargs, result=shipment)
    assert order_flow.SHIPMENTS[shipment["shipment_id"]]["status"] == "cancelled"


def test_confirmation_email_is_sent_once_or_fails_without_address() -> None:
    kwargs: dict[str, Any] = {"order_id": "o-1", "tracking_number": "PAR0000000001", "total_cents": 5048}
    sent = order_flow.send_confirmation_email(customer_id="cus-alice", **kwargs)
    order_flow.send_confirmation_email(customer_id="cus-alice", **kwargs)
    assert [m[0] for m in order_flow.OUTBOX] == [sent["message_id"]]
    assert "50.48 EUR" in order_flow.OUTBOX[0][2]
    with pytest.raises(order_flow.NoEmailAddress):
        order_flow.send_confirmation_email(customer_id="cus-bob", **kwargs)


def test_loyalty_points_are_awarded_once_per_order() -> None:
    assert order_flow.award_loyalty_points(order_id="o-1", customer_id="cus-alice", charged_cents=5048) == {
        "points": 50,
        "balance": 50,
    }
    order_flow.award_loyalty_points(order_id="o-1", customer_id="cus-alice", charged_cents=5048)
    assert order_flow.award_loyalty_points(order_id="o-2", customer_id="cus-alice", charged_cents=1999) == {
        "points": 19,
        "balance": 69,
    }


def test_close_order_with_and_without_the_best_effort_steps() -> None:
    payment: ChargePaymentOutput = {"payment_id": "pay-1", "charged_cents": 5048}
    done = order_flow.close_order(
        order_id="o-1",
        payment=payment,
        tracking_number="PAR1",
        confirmation_id="msg-1",
        loyalty={"points": 50, "balance": 50},
    )
    assert done == {"status": "completed", "summary": "order o-1: paid 50.48, tracking PAR1, +50 points"}
    partial = order_flow.close_order(
        order_id="o-1", payment=payment, tracking_number="PAR1", confirmation_id=None, loyalty=None
    )
    assert partial["status"] == "completed_with_warnings"
    assert partial["summary"].endswith("not done: confirmation e-mail, loyalty points")


def test_the_whole_order_then_every_revert_restores_the_shop() -> None:
    """The saga by hand: run the forward steps, then the reverts newest first."""
    before = order_flow.snapshot()
    items = {"LAMP-003": 1, "PEN-004": 3}
    checked = order_flow.validate_order(order_id="o-9", items=items, placed_at=PLACED_AT)
    priced = order_flow.price_order(
        subtotal_cents=checked["subtotal_cents"], coupon="SPRING25", customer_id="x"
    )
    reservation = order_flow.reserve_inventory(order_id="o-9", items=items)
    charge: dict[str, Any] = {
        "order_id": "o-9",
        "customer_id": "cus-alice",
        "amount_cents": priced["total_cents"],
        "currency": "EUR",
    }
    payment = order_flow.charge_payment(**charge)
    parcel = order_flow.pick_and_pack(order_id="o-9", reservation=reservation, context=FakeContext())
    ship: dict[str, Any] = {"order_id": "o-9", "address": "Paris", "carrier": "parcelnet", **parcel}
    shipment = order_flow.create_shipment(**ship)
    assert order_flow.STOCK["LAMP-003"] == 1

    order_flow.cancel_shipment(**ship, result=shipment)
    order_flow.refund_payment(**charge, result=payment)
    order_flow.release_inventory(order_id="o-9", items=items, result=reservation)
    after = order_flow.snapshot()
    assert after["stock"] == before["stock"]
    assert after["reservations"] == {}
    assert all(p["amount_cents"] == p["refunded_cents"] for p in after["payments"].values())
    assert all(s["status"] == "cancelled" for s in after["shipments"].values())


# -- etl -------------------------------------------------------------------------------------


def test_list_regions() -> None:
    assert etl.list_regions(dataset="billing") == {"regions": ["eu-west", "us-east"]}
    with pytest.raises(etl.UnknownDataset, match="known: billing, events"):
        etl.list_regions(dataset="clicks")


def test_extract_partition_is_deterministic_and_heartbeats() -> None:
    context = FakeContext()
    day = datetime.date(2024, 3, 1)
    first = etl.extract_partition(dataset="events", day=day, region="eu-west", context=context)
    again = etl.extract_partition(dataset="events", day=day, region="eu-west", context=FakeContext())
    assert first == again
    assert first["path"] == "s3://analytics-staging/events/dt=2024-03-01/region=eu-west/part-0.parquet"
    assert etl.STORE[first["path"]] == (first["rows"], first["checksum"])
    assert context.heartbeats == [f"{first['rows']} rows read"]
    assert 50_000 <= first["rows"] < 51_000
    with pytest.raises(etl.UnknownDataset):
        etl.extract_partition(dataset="billing", day=day, region="ap-south", context=FakeContext())


def test_baseline_is_the_average_partition() -> None:
    day = datetime.date(2024, 1, 3)
    rows = [
        etl.extract_partition(dataset="billing", day=day, region=r, context=FakeContext())["rows"]
        for r in etl.REGIONS["billing"]
    ]
    assert etl.baseline_rows(dataset="billing", day=day) == {"rows": sum(rows) // 2}
    with pytest.raises(etl.UnknownDataset):
        etl.baseline_rows(dataset="clicks", day=day)


def test_quality_checks() -> None:
    common: dict[str, Any] = {
        "first_bucket": 25,
        "table": "analytics.events_daily",
        "baseline_rows": [20_000],
    }
    ok = etl.quality_check(check="row_count", loaded_rows=30_000, extracted_rows=[10_000, 20_000], **common)
    assert ok == {
        "check": "row_count",
        "passed": True,
        "score": 1.0,
        "metrics": {"bucket": 25.0, "missing_rows": 0.0},
    }
    short = etl.quality_check(
        check="row_count", loaded_rows=27_000, extracted_rows=[10_000, 20_000], **common
    )
    assert short["passed"] is False and short["score"] == 0.9
    nulls = etl.quality_check(
        check="null_ratio", loaded_rows=30_000, extracted_rows=[10_000, 20_000], **common
    )
    assert nulls["score"] == 0.75 and nulls["metrics"]["baseline_average"] == 20_000.0
    dupes = etl.quality_check(check="duplicate_keys", loaded_rows=40_000, extracted_rows=[30_000], **common)
    assert dupes["score"] == 0.75 and dupes["metrics"]["duplicates"] == 10_000.0
    with pytest.raises(ValueError, match="unknown check"):
        etl.quality_check(check="freshness", loaded_rows=1, extracted_rows=[1], **common)


def test_refresh_aggregates() -> None:
    start, end = datetime.date(2024, 3, 1), datetime.date(2024, 3, 31)
    out = etl.refresh_aggregates(shard=3, shards=4, table="t", start=start, end=end)
    assert out["shard"] == 3 and out["rows"] % 31 == 0 and out["rows"] >= 31 * 100
    with pytest.raises(ValueError, match="shard 4"):
        etl.refresh_aggregates(shard=4, shards=4, table="t", start=start, end=end)


def test_publish_report() -> None:
    checks: list[QualityCheckOutput] = [
        {"check": "row_count", "passed": True, "score": 1.0, "metrics": {}},
        {"check": "null_ratio", "passed": False, "score": 0.5, "metrics": {}},
        {"check": "null_ratio", "passed": False, "score": 0.7, "metrics": {}},
    ]
    requested = datetime.datetime(2024, 4, 1, 6, 0, tzinfo=datetime.UTC)
    out = etl.publish_report(
        dataset="events",
        checks=checks,
        aggregate_rows=[10, 20],
        end=datetime.date(2024, 3, 31),
        requested_at=requested,
    )
    assert out["window_closed_at"] == datetime.datetime(2024, 4, 1, tzinfo=datetime.UTC)
    assert out["report"] == {
        "dataset": "events",
        "requested_at": "2024-04-01T06:00:00+00:00",
        "checks": 3,
        "failed_checks": ["null_ratio"],
        "worst_score": 0.5,
        "aggregate_rows": 30,
        "status": "attention",
    }


# -- whole runs, through the generated packages' local runner (no AWS) ------------------------


def _local(workflow: str) -> Any:
    if str(GENERATED) not in sys.path:
        sys.path.append(str(GENERATED))
    return importlib.import_module(f"{workflow}.local")


ORDER = {
    "order_id": "o-100",
    "customer_id": "cus-alice",
    "items": {"BOOK-001": 1, "LAMP-003": 1},
    "shipping_address": "1 Rue de la Paix, Paris",
    "coupon": "WELCOME10",
    "placed_at": "2024-06-03T09:30:00+00:00",
}


def test_order_flow_runs_to_the_end() -> None:
    run = _local("order_flow").run(ORDER, workers=1)
    assert run.status == "COMPLETED", run.reason
    assert run.result["status"] == "completed"
    assert run.result["loyalty_points"] == 58  # (1899 + 4599) less 10%: 58.49 EUR
    assert run.result["result_format"] == 1
    assert order_flow.STOCK["LAMP-003"] == 1
    assert [m[1] for m in order_flow.OUTBOX] == ["alice@example.com"]


def test_order_flow_goes_on_without_the_best_effort_steps() -> None:
    order = {**ORDER, "customer_id": "cus-bob", "items": {"PEN-004": 2}, "coupon": None}
    run = _local("order_flow").run(order, workers=1)
    assert run.status == "COMPLETED", run.reason
    assert run.result["status"] == "completed_with_warnings"  # bob has no e-mail address
    assert run.result["loyalty_points"] == 10
    assert order_flow.OUTBOX == []


def test_order_flow_declined_card_releases_the_stock() -> None:
    before = order_flow.snapshot()
    run = _local("order_flow").run({**ORDER, "customer_id": "cus-bob"}, workers=1)
    assert run.status == "FAILED"
    assert "charge_payment" in run.reason and "PaymentDeclined" in run.reason
    assert order_flow.snapshot() == before


def test_order_flow_failed_shipment_refunds_and_releases() -> None:
    before = order_flow.snapshot()
    order_flow.fail_next("create_shipment", *[ConnectionError("carrier API down")] * 3)
    run = _local("order_flow").run(ORDER, workers=1)
    assert run.status == "FAILED"
    assert "create_shipment" in run.reason
    after = order_flow.snapshot()
    assert after["stock"] == before["stock"] and after["reservations"] == {}
    (payment,) = after["payments"].values()
    assert payment["refunded_cents"] == payment["amount_cents"] > 0


def test_etl_runs_with_a_stand_in_for_the_external_loader() -> None:
    def load_warehouse(paths: list[str], table: str, spark_conf: dict[str, Any]) -> dict[str, Any]:
        return {"table": table, "loaded_rows": sum(etl.STORE[path][0] for path in paths)}

    run = _local("regional_etl").run(
        {
            "dataset": "billing",
            "start": "2024-03-01",
            "end": "2024-03-02",
            "spark_conf": {"spark.executor.memory": "4g"},
            "requested_at": "2024-03-03T06:00:00+00:00",
        },
        stand_ins={"load_warehouse": load_warehouse},
        workers=1,
    )
    assert run.status == "COMPLETED", run.reason
    assert len(run.result["rows_per_partition"]) == 4  # 2 days x 2 regions
    assert run.result["loaded_rows"] == sum(run.result["rows_per_partition"])
    report = run.result["report"]
    assert report["checks"] == 12 and report["dataset"] == "billing"
    assert report["status"] == "ok" and report["failed_checks"] == []
    assert run.result["table"] == "analytics.events_daily"


# -- the example specs use the whole language ----------------------------------------------------


def _walk(value: Any, keys: set[str], leaves: list[Any]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            keys.add(key)
            _walk(item, keys, leaves)
    elif isinstance(value, list):
        for item in value:
            _walk(item, keys, leaves)
    else:
        leaves.append(value)


def test_the_example_specs_use_every_key_and_feature() -> None:
    from flowgen.load import read_spec_file
    from flowgen.spec import models

    documents = [
        read_spec_file(str(ROOT / "specs" / f"{n}.yaml")).data for n in ("country_flow", "order_flow", "etl")
    ]
    checked = [
        compile_spec(str(ROOT / "specs" / f"{n}.yaml")).checked for n in ("country_flow", "order_flow", "etl")
    ]
    keys: set[str] = set()
    leaves: list[Any] = []
    for data in documents:
        _walk(data, keys, leaves)
    for model in (
        models.Spec,
        models.Workflow,
        models.Defaults,
        models.Activity,
        models.Retry,
        models.Timeouts,
    ):
        for name, field in model.model_fields.items():
            assert (
                field.alias or name
            ) in keys, f"no example spec uses {model.__name__}.{field.alias or name}"
    for key in ("items", "range", "date_range", "value"):
        assert key in keys
    for value in ("TERMINATE", "REQUEST_CANCEL", "ABANDON", "continue", "fail_workflow", "full", "none"):
        assert value in leaves, value
    for error in ("START_TO_CLOSE", "SCHEDULE_TO_START", "HEARTBEAT"):
        assert error in leaves, error
    for unit in ("s", "m", "h", "d"):
        assert any(isinstance(x, str) and x[:-1].isdigit() and x.endswith(unit) for x in leaves), unit
    assert any(type(x) is int for x in leaves)
    types_used = " ".join(
        str(t) for c in checked if c for a in c.spec.activities.values() for t in a.outputs.values()
    ) + " ".join(str(t) for c in checked if c for t in c.spec.workflow.input.values())
    for t in ("str", "int", "float", "bool", "date", "datetime", "any", "list[", "dict[str, ", "| None"):
        assert t in types_used, t
    references = [
        r.text
        for c in checked
        if c
        for a in c.spec.activities.values()
        for r in a.inputs.values()
        if not isinstance(r, models.LiteralValue)
    ]
    assert any(r.startswith("input.") for r in references)
    assert any(r.startswith("generator.") for r in references)
    assert any(r.endswith("[*]") for r in references)
    assert any("[*]." in r for r in references)
    assert any("." not in r and "[" not in r for r in references)  # a whole output
    ranges = [x for c in checked if c for a in c.spec.activities.values() for x in a.generators.values()]
    assert {len(r.range) for r in ranges if isinstance(r, models.RangeSource)} == {2, 3}
    ends = [
        end
        for r in ranges
        if isinstance(r, models.DateRangeSource)
        for end in (r.date_range.start, r.date_range.end)
    ]
    assert any(e.startswith("input.") for e in ends) and any(e[:4].isdigit() for e in ends)
    assert "$schema" in keys
