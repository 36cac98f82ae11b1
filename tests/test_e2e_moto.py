"""Every example flow end to end on moto, in this process, through the generated packages.

Each test registers with the package's registration, starts with the generated starter's typed
`start`, and turns the generated decider (`DeciderLoop.poll_once`) and workers (`Worker.poll_once`)
one poll at a time until the execution closes.

Retry waits are SWF timers. moto fires timers from `threading.Timer`s in real seconds; here they
run on a virtual clock instead (`moto_swf.ManualClock`): when neither the decider nor a worker has
anything to do, the test fires the earliest pending timer. Histories keep the spec's waits
(`startToFireTimeout`), so the backoff is asserted exactly, and nothing sleeps. Nothing else of
moto's is changed: it refuses any activity id an execution used before, and flowgen schedules each
attempt under an id of its own (`activity_2-0#2` for the second), so its retries run on moto as is.

Expected results are computed here from the handlers' own rules, not by flowgen's runners.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import pathlib
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from moto import mock_aws
from moto_swf import (
    AWS_ENV,
    GENERATED,
    REGION,
    ManualClock,
    attributes,
    country_report,
    execution_info,
    failing_attempts,
    history,
    no_empty_poll_sleep,
    of_type,
    scheduled_while_open,
    skip_ahead,
    timers_for_open_activities,
)

if str(GENERATED) not in sys.path:
    sys.path.append(str(GENERATED))

import country_flow.flow
import order_flow.flow
import regional_etl.flow
from country_flow.engine.entry import wait_for_close
from country_flow.engine.polling import DeciderLoop
from country_flow.engine.register import register
from country_flow.engine.swf import client as swf_client

from examples import etl
from examples import order_flow as shop
from flowgen.runtime.ids import attempt_id, split_attempt_id


@dataclass
class Moto:
    client: Any
    clock: ManualClock


@pytest.fixture
def moto(monkeypatch: pytest.MonkeyPatch) -> Iterator[Moto]:
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)
    no_empty_poll_sleep(monkeypatch)
    clock = ManualClock.install(monkeypatch)
    with mock_aws():
        yield Moto(swf_client(region=REGION), clock)


def drive(
    moto: Moto, plan: Any, ids: tuple[str, str], workers: list[Any], rounds: int = 1000
) -> list[dict[str, Any]]:
    """Poll the decider and every worker's task lists until the execution closes; its history.

    With no task anywhere, the earliest pending timer fires (virtual time moves on).
    """
    decider = DeciderLoop(plan, moto.client, identity="decider")
    for _ in range(rounds):
        if execution_info(moto.client, plan.domain, *ids)["executionStatus"] == "CLOSED":
            events = history(moto.client, plan.domain, *ids)
            assert scheduled_while_open(events) == []
            assert timers_for_open_activities(events) == []
            return events
        busy = decider.poll_once()
        for worker in workers:
            for task_list in worker.task_lists:
                busy = worker.poll_once(task_list) or busy
        if not busy and not moto.clock.fire_next():
            raise AssertionError("nothing to do and no timer pending, yet the execution is open")
    raise AssertionError(f"the execution did not close in {rounds} rounds")


def closed(moto: Moto, plan: Any, ids: tuple[str, str]) -> tuple[str, dict[str, Any]]:
    """(close status, attributes of the closing event)."""
    info = execution_info(moto.client, plan.domain, *ids)
    events = history(moto.client, plan.domain, *ids)
    return info["closeStatus"], attributes(events[-1])


def timer_waits(events: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """(activity id, seconds) of every retry timer, in the order they started."""
    found = []
    for timer in of_type(events, "TimerStarted"):
        control = json.loads(timer["control"])
        found.append((control["activity_id"], int(timer["startToFireTimeout"])))
    return found


def attempts(events: list[dict[str, Any]], instance: str) -> list[tuple[str, int]]:
    """The activity id and the input envelope's attempt number of each scheduling of `instance`."""
    return [
        (a["activityId"], json.loads(a["input"])["attempt"])
        for a in of_type(events, "ActivityTaskScheduled")
        if split_attempt_id(a["activityId"])[0] == instance
    ]


def test_registration_is_idempotent_and_complete(moto: Moto) -> None:
    plan = order_flow.flow.PLAN
    first = register(plan, moto.client)
    assert not first.drift and first.registered == 1 + 1 + 12  # domain, workflow, 9 activities + 3 reverts
    again = register(plan, moto.client)
    assert not again.drift and again.registered == 0 and again.unchanged == 14
    assert again.summary() == "nothing to do: all 14 registrations are as the spec says"
    found = moto.client.describe_activity_type(
        domain="shop", activityType={"name": "order_flow.pick_and_pack", "version": "2024.06"}
    )["configuration"]
    assert found["defaultTaskList"] == {"name": "warehouse-eu-1"}
    assert found["defaultTaskStartToCloseTimeout"] == "NONE"
    assert (found["defaultTaskHeartbeatTimeout"], found["defaultTaskScheduleToStartTimeout"]) == (
        "600",
        "14400",
    )
    assert found["defaultTaskScheduleToCloseTimeout"] == "43200"


# -- country_flow ---------------------------------------------------------------------------------


def country_workers(moto: Moto) -> list[Any]:
    from country_flow.worker import Worker, spec_handlers

    return [Worker(spec_handlers(), moto.client, identity="worker")]


def test_country_flow_completes_with_the_exact_report(moto: Moto, monkeypatch: pytest.MonkeyPatch) -> None:
    from country_flow.starter import start

    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", "0")
    plan = country_flow.flow.PLAN
    register(plan, moto.client)
    days, countries = ["2026-03-01", "2026-03-02"], [250, 276, 380]
    ids = start({"days": [datetime.date.fromisoformat(d) for d in days], "countries": countries}, moto.client)
    events = drive(moto, plan, ids, country_workers(moto))
    status, result = closed(moto, plan, ids)
    assert status == "COMPLETED"
    assert json.loads(result["result"]) == country_report(days, countries)
    assert of_type(events, "ActivityTaskFailed") == [] and of_type(events, "TimerStarted") == []


# Found by searching seeds: at a failure rate of 0.5, country 1 fails 3 times, country 3 once, country 2 never.
SEED, RATE = "seed-193", 0.5


def test_country_flow_retries_with_backoff_timers_then_completes(
    moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from country_flow.starter import start

    days, countries = ["2026-03-01"], [1, 2, 3]
    fails = {c: failing_attempts(SEED, RATE, c, days[0]) for c in countries}
    assert fails == {1: 3, 2: 0, 3: 1}  # 3 retries allowed: all complete
    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", str(RATE))
    monkeypatch.setenv("COUNTRY_FLOW_SEED", SEED)
    plan = country_flow.flow.PLAN
    register(plan, moto.client)
    ids = start({"days": [datetime.date(2026, 3, 1)], "countries": countries}, moto.client)
    events = drive(moto, plan, ids, country_workers(moto))
    status, result = closed(moto, plan, ids)
    assert status == "COMPLETED"
    assert json.loads(result["result"]) == country_report(days, countries)
    failed = of_type(events, "ActivityTaskFailed")
    assert len(failed) == sum(fails.values())
    assert {f["reason"] for f in failed} <= {
        f"ConnectionError: public-api did not answer for country {c} on 2026-03-01" for c in countries
    }
    # Each instance's retries wait 10 s, then 20 s, then 40 s (interval 10s, backoff_rate 2.0).
    for n, country in enumerate(countries):
        activity_id = f"activity_2-{n}"
        waits = [s for a, s in timer_waits(events) if a == activity_id]
        assert waits == [10, 20, 40][: fails[country]]
        assert attempts(events, activity_id) == [
            (attempt_id(activity_id, n), n) for n in range(1, fails[country] + 2)
        ]
    assert len(of_type(events, "TimerFired")) == sum(fails.values())
    assert moto.clock.pending == 0


def test_country_flow_fails_naming_the_instance_when_retries_run_out(
    moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    from country_flow.starter import start

    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", "1")
    plan = country_flow.flow.PLAN
    register(plan, moto.client)
    ids = start({"days": [datetime.date(2026, 3, 1)], "countries": [250]}, moto.client)
    events = drive(moto, plan, ids, country_workers(moto))
    status, closing = closed(moto, plan, ids)
    assert status == "FAILED"
    assert closing["reason"] == (
        "activity_2-0 (day=2026-03-01, country_id=250) failed after 4 attempts: "
        "ConnectionError: public-api did not answer for country 250 on 2026-03-01"
    )
    assert timer_waits(events) == [("activity_2-0", 10), ("activity_2-0", 20), ("activity_2-0", 40)]
    assert attempts(events, "activity_2-0") == [
        ("activity_2-0", 1),
        ("activity_2-0#2", 2),
        ("activity_2-0#3", 3),
        ("activity_2-0#4", 4),
    ]
    # What `starter --wait` reports.
    assert wait_for_close(moto.client, "dev", *ids) == ("FAILED", closing)
    assert of_type(events, "ActivityTaskScheduled")[-1]["activityId"] == "activity_2-0#4"  # no activity_3


def test_a_decision_task_whose_decider_died_is_handed_out_again_after_the_decision_timeout(
    moto: Moto, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A decider that dies holding a task blocks the execution until SWF times the task out (30 s)."""
    from country_flow.starter import start

    monkeypatch.setenv("COUNTRY_FLOW_FAILURE_RATE", "0")
    plan = country_flow.flow.PLAN
    register(plan, moto.client)
    ids = start({"days": [datetime.date(2026, 3, 1)], "countries": [250]}, moto.client)
    dead = moto.client.poll_for_decision_task(
        domain="dev", taskList={"name": "country_flow-v1.0"}, identity="dead"
    )
    assert dead["taskToken"]  # ...and never answered
    assert DeciderLoop(plan, moto.client).poll_once() is False  # one decision task at a time
    with skip_ahead(29):
        assert DeciderLoop(plan, moto.client).poll_once() is False
    with skip_ahead(31):
        moto.client.count_pending_decision_tasks(domain="dev", taskList={"name": "country_flow-v1.0"})
    events = drive(moto, plan, ids, country_workers(moto))
    assert closed(moto, plan, ids)[0] == "COMPLETED"
    (timed_out,) = of_type(events, "DecisionTaskTimedOut")
    assert timed_out["timeoutType"] == "START_TO_CLOSE"
    assert [a["identity"] for a in of_type(events, "DecisionTaskStarted")][:2] == ["dead", "decider"]


# -- order_flow -----------------------------------------------------------------------------------

ORDER = {
    "order_id": "ord-1001",
    "customer_id": "cus-alice",
    "items": {"BOOK-001": 2, "PEN-004": 3},
    "shipping_address": "1 Rue de la Paix, Paris",
    "coupon": "WELCOME10",
    "placed_at": datetime.datetime(2024, 5, 1, 10, 0, tzinfo=datetime.UTC),
}


@pytest.fixture
def shop_state() -> Iterator[None]:
    shop.reset()
    yield
    shop.reset()


class Packer:
    def heartbeat(self, details: str) -> None:
        pass


def expected_order() -> dict[str, Any]:
    """The order's result from the handlers called by hand, in the spec's order; state reset after."""
    order = ORDER
    validated = shop.validate_order(order["order_id"], order["items"], order["placed_at"])
    priced = shop.price_order(validated["subtotal_cents"], order["coupon"], order["customer_id"])
    reserved = shop.reserve_inventory(order["order_id"], order["items"])
    paid = shop.charge_payment(
        order["order_id"], order["customer_id"], priced["total_cents"], validated["currency"]
    )
    parcel = shop.pick_and_pack(order["order_id"], reserved, Packer())
    shipment = shop.create_shipment(
        order["order_id"], order["shipping_address"], parcel["parcel_id"], parcel["weight_grams"], "parcelnet"
    )
    mail = shop.send_confirmation_email(
        order["order_id"], order["customer_id"], shipment["tracking_number"], priced["total_cents"]
    )
    points = shop.award_loyalty_points(order["order_id"], order["customer_id"], paid["charged_cents"])
    closing = shop.close_order(
        order["order_id"], paid, shipment["tracking_number"], mail["message_id"], points
    )
    shop.reset()
    return {
        "order_id": order["order_id"],
        "status": closing["status"],
        "payment_id": paid["payment_id"],
        "tracking_number": shipment["tracking_number"],
        "loyalty_points": points["points"],
        "result_format": 1,
    }


def order_workers(moto: Moto, **replace: Callable[..., Any]) -> list[Any]:
    from order_flow.worker import Worker, spec_handlers

    handlers: Any = {**spec_handlers(), **replace}
    return [Worker(handlers, moto.client, identity="worker")]


@pytest.mark.usefixtures("shop_state")
def test_order_flow_completes_with_the_exact_result(moto: Moto) -> None:
    from order_flow.starter import start

    expected = expected_order()
    assert expected["status"] == "completed"
    plan = order_flow.flow.PLAN
    register(plan, moto.client)
    ids = start(ORDER, moto.client)  # typed input: placed_at is a datetime
    events = drive(moto, plan, ids, order_workers(moto))
    status, result = closed(moto, plan, ids)
    assert status == "COMPLETED"
    assert json.loads(result["result"]) == expected
    assert shop.STOCK["BOOK-001"] == 18 and shop.STOCK["PEN-004"] == 497
    assert [s["status"] for s in shop.SHIPMENTS.values()] == ["booked"]
    # Every task went to its own task list, with the spec's priority.
    scheduled = {a["activityId"]: a for a in of_type(events, "ActivityTaskScheduled")}
    assert scheduled["pick_and_pack"]["taskList"] == {"name": "warehouse-eu-1"}
    assert scheduled["award_loyalty_points"]["taskList"] == {"name": "order_flow-notifications"}
    assert scheduled["charge_payment"]["activityType"] == {
        "name": "order_flow.charge_payment",
        "version": "2024.07",
    }


@pytest.mark.usefixtures("shop_state")
def test_order_flow_completes_after_retries(moto: Moto) -> None:
    from order_flow.starter import start

    expected = expected_order()
    shop.fail_next("reserve_inventory", shop.InventoryLocked("rows locked"), shop.InventoryLocked("still"))
    shop.fail_next("charge_payment", shop.GatewayTimeout("no answer"))
    shop.fail_next("create_shipment", ConnectionError("carrier down"), ConnectionError("carrier down"))
    plan = order_flow.flow.PLAN
    register(plan, moto.client)
    ids = start(ORDER, moto.client)
    events = drive(moto, plan, ids, order_workers(moto))
    status, result = closed(moto, plan, ids)
    assert status == "COMPLETED"
    assert json.loads(result["result"]) == expected
    reasons = [(f["reason"]) for f in of_type(events, "ActivityTaskFailed")]
    assert reasons == [
        "InventoryLocked: rows locked",
        "InventoryLocked: still",
        "GatewayTimeout: no answer",
        "ConnectionError: carrier down",
        "ConnectionError: carrier down",
    ]
    # reserve_inventory waits 2 s then 3 s (backoff 1.5); charge_payment 10 s; create_shipment's
    # retries have no interval: scheduled again at once, without a timer.
    assert timer_waits(events) == [("reserve_inventory", 2), ("reserve_inventory", 3), ("charge_payment", 10)]
    assert [t for _, t in moto.clock.fired] == [2.0, 3.0, 10.0]
    assert attempts(events, "reserve_inventory") == [
        ("reserve_inventory", 1),
        ("reserve_inventory#2", 2),
        ("reserve_inventory#3", 3),
    ]
    assert attempts(events, "create_shipment") == [
        ("create_shipment", 1),
        ("create_shipment#2", 2),
        ("create_shipment#3", 3),
    ]
    # Idempotent handlers: stock was taken once, one payment.
    assert shop.STOCK["BOOK-001"] == 18 and len(shop.PAYMENTS) == 1


@pytest.mark.usefixtures("shop_state")
def test_order_flow_runs_the_reverts_newest_first_then_fails(moto: Moto) -> None:
    from order_flow.starter import start

    def close_order_breaks(**kwargs: Any) -> None:
        raise RuntimeError(f"ledger unavailable for {kwargs['order_id']}")

    plan = order_flow.flow.PLAN
    register(plan, moto.client)
    ids = start(ORDER, moto.client)
    events = drive(moto, plan, ids, order_workers(moto, close_order=close_order_breaks))
    status, closing = closed(moto, plan, ids)
    assert status == "FAILED"
    assert (
        closing["reason"]
        == "close_order failed after 3 attempts: RuntimeError: ledger unavailable for ord-1001"
    )
    assert attempts(events, "close_order") == [("close_order", 1), ("close_order#2", 2), ("close_order#3", 3)]
    # The reverts of what completed, newest first, each one after the previous one completed.
    kinds = [(e["eventType"], attributes(e).get("activityId")) for e in events]
    reverts = [
        (kind, activity_id)
        for kind, activity_id in kinds
        if kind == "ActivityTaskScheduled" and activity_id and activity_id.endswith(".revert")
    ]
    assert [a for _, a in reverts] == [
        "create_shipment.revert",
        "charge_payment.revert",
        "reserve_inventory.revert",
    ]
    by_scheduled = {
        e["eventId"]: attributes(e)["activityId"] for e in events if e["eventType"] == "ActivityTaskScheduled"
    }
    order = []
    for e in events:
        if e["eventType"] in ("ActivityTaskScheduled", "ActivityTaskCompleted"):
            activity_id = by_scheduled[
                (
                    e["eventId"]
                    if e["eventType"] == "ActivityTaskScheduled"
                    else attributes(e)["scheduledEventId"]
                )
            ]
            if activity_id.endswith(".revert"):
                order.append((e["eventType"][12:], activity_id))
    assert order == [
        ("Scheduled", "create_shipment.revert"),
        ("Completed", "create_shipment.revert"),
        ("Scheduled", "charge_payment.revert"),
        ("Completed", "charge_payment.revert"),
        ("Scheduled", "reserve_inventory.revert"),
        ("Completed", "reserve_inventory.revert"),
    ]
    # The closing event comes after the last revert completed; the services are undone.
    assert events[-1]["eventType"] == "WorkflowExecutionFailed"
    assert shop.STOCK == {"BOOK-001": 20, "MUG-002": 5, "LAMP-003": 2, "PEN-004": 500}
    (payment,) = shop.PAYMENTS.values()
    assert payment["refunded_cents"] == payment["amount_cents"] > 0
    assert [s["status"] for s in shop.SHIPMENTS.values()] == ["cancelled"]
    details = json.loads(closing["details"])
    assert "close_order" in json.dumps(details)


# -- regional_etl ---------------------------------------------------------------------------------

ETL_INPUT = {
    "dataset": "billing",
    "start": datetime.date(2024, 3, 1),
    "end": datetime.date(2024, 3, 2),
    "spark_conf": {"spark.executor.memory": "4g"},
    "requested_at": datetime.datetime(2024, 3, 3, 6, 30, tzinfo=datetime.UTC),
}


def spark_loader(paths: list[str], table: str, spark_conf: dict[str, Any], context: Any) -> dict[str, Any]:
    """Stands in for the Java loader on spark-loaders: loads what the extracts wrote; fails once."""
    if context.attempt == 1:
        raise TimeoutError("the Spark cluster is still starting")
    return {"table": table, "loaded_rows": sum(etl.STORE[path][0] for path in paths)}


def expected_etl() -> dict[str, Any]:
    """The ETL's result from the handlers called by hand."""
    data = ETL_INPUT
    regions = etl.list_regions(data["dataset"])["regions"]
    days = [data["start"] + datetime.timedelta(days=n) for n in range((data["end"] - data["start"]).days + 1)]
    extracts = [etl.extract_partition(data["dataset"], d, r, Packer()) for d in days for r in regions]
    baseline = [
        etl.baseline_rows(data["dataset"], datetime.date(2024, 1, 1) + datetime.timedelta(days=n))["rows"]
        for n in range(7)
    ]
    table, loaded = "analytics.events_daily", sum(e["rows"] for e in extracts)
    checks = [
        etl.quality_check(check, bucket, table, loaded, [e["rows"] for e in extracts], baseline)
        for check in ("row_count", "null_ratio", "duplicate_keys")
        for bucket in (0, 25, 50, 75)
    ]
    shards = [etl.refresh_aggregates(s, 4, table, data["start"], data["end"])["rows"] for s in range(4)]
    published = etl.publish_report(data["dataset"], checks, shards, data["end"], data["requested_at"])
    etl.STORE.clear()
    return {
        "table": table,
        "loaded_rows": loaded,
        "rows_per_partition": [e["rows"] for e in extracts],
        "report": published["report"],
    }


def test_regional_etl_completes_with_a_stand_in_for_the_external_loader(moto: Moto) -> None:
    from regional_etl.engine.worker import Worker as EngineWorker
    from regional_etl.starter import start
    from regional_etl.worker import Worker, spec_handlers

    expected = expected_etl()
    plan = regional_etl.flow.PLAN
    report = register(plan, moto.client)
    assert "activity type LoadWarehouse 2.3.0: registered" in report.lines  # the spec's type_name
    ids = start(ETL_INPUT, moto.client)
    python = Worker(spec_handlers(), moto.client, identity="python")
    assert set(python.task_lists) == {"etl-python", "etl-sql"}  # not spark-loaders: it is external
    spark = EngineWorker(plan, {"load_warehouse": spark_loader}, moto.client, task_list="spark-loaders")
    try:
        events = drive(moto, plan, ids, [python, spark])
    finally:
        etl.STORE.clear()
    status, result = closed(moto, plan, ids)
    assert status == "COMPLETED"
    assert json.loads(result["result"]) == expected
    (failed,) = of_type(events, "ActivityTaskFailed")
    assert failed["reason"] == "TimeoutError: the Spark cluster is still starting"
    assert attempts(events, "load_warehouse") == [
        ("load_warehouse", 1),
        ("load_warehouse#2", 2),
    ]  # retry: 1, no interval: no timer
    assert timer_waits(events) == []
    started = {a["scheduledEventId"]: a["identity"] for a in of_type(events, "ActivityTaskStarted")}
    loads = [
        e["eventId"]
        for e in events
        if split_attempt_id(attributes(e).get("activityId", ""))[0] == "load_warehouse"
    ]
    assert {started[i] for i in loads} == {spark.identity}


# -- values over SWF's 32,768 characters: tests/e2e/big_flow.yaml, with payloads in moto's S3 -------

E2E = pathlib.Path(__file__).resolve().parent / "e2e"


def big_flow(with_payloads: bool) -> Any:
    from flowgen.compiler import compile_spec
    from flowgen.plan import build_plan

    compiled = compile_spec(str(E2E / "big_flow.yaml"))
    assert compiled.checked is not None
    plan = build_plan(compiled.checked)
    return plan if with_payloads else dataclasses.replace(plan, payloads=None)


def big_flow_worker(plan: Any, client: Any) -> Any:
    from flowgen.runtime.worker import Worker as EngineWorker

    if str(E2E) not in sys.path:
        sys.path.append(str(E2E))
    import big_flow_handlers

    return EngineWorker(plan, {"make": big_flow_handlers.make, "join": big_flow_handlers.join}, client)


def test_a_flow_whose_fan_in_is_over_32768_characters_completes_with_payloads_in_s3(moto: Moto) -> None:
    import boto3

    from flowgen.runtime.entry import start
    from flowgen.runtime.payloads import MemoryStore, Payloads, S3Store, is_reference, parse_reference

    plan = big_flow(with_payloads=True)
    worker = big_flow_worker(plan, moto.client)
    import big_flow_handlers

    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket=plan.payloads.bucket)
    register(plan, moto.client)
    note = "n" * 33_000
    ids = start(plan, {"size": 1000, "note": note}, moto.client, "big-1")
    events = drive(moto, plan, ids, [worker])
    status, closing = closed(moto, plan, ids)
    assert status == "COMPLETED"
    # SWF carried references only: the input, the fan-in, the join's result and the workflow result.
    for event in events:
        assert len(json.dumps(event, default=str)) < 2_000, event["eventType"]
    (started,) = of_type(events, "WorkflowExecutionStarted")
    (join,) = [a for a in of_type(events, "ActivityTaskScheduled") if a["activityId"] == "join"]
    results = {a["scheduledEventId"]: a["result"] for a in of_type(events, "ActivityTaskCompleted")}
    join_id = next(e["eventId"] for e in events if attributes(e).get("activityId") == "join")
    big = [started["input"], join["input"], closing["result"], results[join_id]]
    assert all(is_reference(text) for text in big)
    keys = [parse_reference(text).key for text in big]
    assert keys[0].startswith("runs/big_flow/big-1/input/")
    assert all(key.startswith(f"runs/big_flow/big-1/{ids[1]}/") for key in keys[1:])
    # A reader with nothing cached reads each from S3 and checks it.
    reader = Payloads(plan.payloads, plan.workflow, S3Store(s3, plan.payloads.bucket))
    joined = "".join(big_flow_handlers.label(n, 1000) for n in range(40))
    assert json.loads(reader.resolve(closing["result"], "result")) == {"total": 73_000, "joined": joined}
    assert json.loads(reader.resolve(started["input"], "input")) == {"size": 1000, "note": note}
    fan_in = json.loads(reader.resolve(join["input"], "fan-in"))["input"]
    assert fan_in["labels"] == [big_flow_handlers.label(n, 1000) for n in range(40)]
    # Not in another store: the references name S3's objects.
    empty = Payloads(plan.payloads, plan.workflow, MemoryStore())
    with pytest.raises(Exception, match="cannot be read"):
        empty.resolve(closing["result"], "the workflow result")


def test_a_flow_whose_fan_in_is_over_32768_characters_fails_clearly_without_payloads(moto: Moto) -> None:
    from flowgen.runtime.entry import start

    plan = big_flow(with_payloads=False)
    register(plan, moto.client)
    ids = start(plan, {"size": 1000, "note": ""}, moto.client, "big-2")
    events = drive(moto, plan, ids, [big_flow_worker(plan, moto.client)])
    status, closing = closed(moto, plan, ids)
    assert status == "FAILED"
    assert closing["reason"].startswith("the input of join (activity join) is 40,")
    assert closing["reason"].endswith(
        "; SWF allows 32,768: set payloads.s3 in the spec to keep larger values in S3"
    )
    assert [a["activityId"] for a in of_type(events, "ActivityTaskScheduled")] == [
        f"make-{n}" for n in range(40)
    ]
