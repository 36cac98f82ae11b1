"""The lean parse of SWF history pages (engine/historyparse.py) gives exactly botocore's values."""

from __future__ import annotations

import datetime
import json
from typing import Any

import boto3
import botocore.session
from botocore.awsrequest import AWSResponse
from botocore.parsers import create_parser
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowgen.runtime import historyparse
from flowgen.runtime.historyparse import OPERATIONS, LeanParser, Unexpected
from flowgen.runtime.polling import DeciderLoop, HistoryCache, poll_decision_task

MODEL = botocore.session.get_session().get_service_model("swf")


def _botocore(operation: str, body: bytes) -> dict[str, Any]:
    shape = MODEL.operation_model(operation).output_shape
    parsed = create_parser("json").parse({"body": body, "headers": {}, "status_code": 200}, shape)
    parsed.pop("ResponseMetadata")
    return parsed  # type: ignore[no-any-return]


def _values(shape: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON values of a botocore shape, as SWF could send them."""
    kind = shape.type_name
    if kind == "timestamp":
        # Epoch seconds with milliseconds, as SWF sends them, over 1970 to 2100 and a few odd ones.
        return st.one_of(
            st.integers(0, 4_102_444_800_000).map(lambda ms: ms / 1000),
            st.integers(0, 4_102_444_800),
            st.sampled_from(["2026-01-01T00:00:00Z", "1700000000"]),
        )
    if kind in ("integer", "long"):
        return st.integers(-(2**40), 2**40)
    if kind == "boolean":
        return st.booleans()
    if kind in ("float", "double"):
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "string":
        return st.text(max_size=8)
    if kind == "list":
        return st.lists(_values(shape.member, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(st.text(max_size=4), _values(shape.value, depth + 1), max_size=3)
    members = shape.members
    if depth > 3:
        return st.just({})
    return st.fixed_dictionaries({}, optional={name: _values(m, depth + 1) for name, m in members.items()})


@st.composite
def _pages(draw: st.DrawFn) -> tuple[str, bytes]:
    operation = draw(st.sampled_from(OPERATIONS))
    shape = MODEL.operation_model(operation).output_shape
    event_shape = shape.members["events"].member
    events = []
    for n in range(draw(st.integers(0, 6))):
        event = draw(_values(event_shape))
        event.update(
            eventId=n + 1,
            eventType="ActivityTaskCompleted",
            eventTimestamp=draw(_values(event_shape.members["eventTimestamp"])),
        )
        # Now and then what botocore treats specially: an unknown key or a null.
        odd = draw(st.sampled_from([None, "unknown", "null"]))
        if odd == "unknown":
            event["somethingNew"] = 1
        elif odd == "null":
            event["eventType"] = None
        events.append(event)
    page = draw(_values(shape))
    page["events"] = events
    return operation, json.dumps(page).encode()


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_pages())
def test_the_lean_parse_gives_botocores_values_or_gives_up(page: tuple[str, bytes]) -> None:
    operation, body = page
    expected = _botocore(operation, body)
    lean = LeanParser(MODEL.operation_model(operation).output_shape)
    try:
        parsed = lean.parse(body)
    except Unexpected:
        return  # botocore parses this one
    assert _same(parsed, expected)


def _same(ours: Any, theirs: Any) -> bool:
    """Equal and of the same types all the way down; datetimes in the same zone, offset and fold."""
    if type(ours) is not type(theirs):
        return False
    if isinstance(ours, dict):
        return ours.keys() == theirs.keys() and all(_same(ours[k], theirs[k]) for k in ours)
    if isinstance(ours, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    if isinstance(ours, datetime.datetime):
        return (ours.replace(tzinfo=None), ours.fold, type(ours.tzinfo), ours.utcoffset()) == (
            theirs.replace(tzinfo=None),
            theirs.fold,
            type(theirs.tzinfo),
            theirs.utcoffset(),
        ) and ours.tzinfo == theirs.tzinfo
    return bool(ours == theirs)


def test_the_lean_parse_gives_up_on_what_botocore_drops() -> None:
    lean = LeanParser(MODEL.operation_model("PollForDecisionTask").output_shape)
    for body in (
        b'{"events": [{"eventId": 1, "new": 2}]}',
        b'{"events": [null]}',
        b'{"taskToken": null}',
        b"[]",
    ):
        try:
            lean.parse(body)
        except Unexpected:
            continue
        raise AssertionError(body)


# -- the hook, through a real client's whole pipeline ------------------------------------------------


def _served(body: bytes, status: int = 200) -> Any:
    def send(**_: Any) -> AWSResponse:
        return AWSResponse("https://swf", status, {}, _Raw(body))

    return send


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Any:
        yield self.body


def _client() -> Any:
    return boto3.client("swf", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")


T0 = 1_767_225_600.123
PAGE = {
    "taskToken": "tok",
    "startedEventId": 3,
    "workflowExecution": {"workflowId": "wf", "runId": "run"},
    "workflowType": {"name": "country_flow", "version": "1.0"},
    "events": [
        {
            "eventId": 3 - n,
            "eventType": "MarkerRecorded",
            "eventTimestamp": T0 + n,
            "markerRecordedEventAttributes": {"markerName": "m", "decisionTaskCompletedEventId": 1},
        }
        for n in range(3)
    ],
}


def test_a_decider_loop_parses_its_pages_leanly_with_botocores_values() -> None:
    plain, lean = _client(), _client()
    for swf in (plain, lean):
        swf.meta.events.register("before-send.swf", _served(json.dumps(PAGE).encode()))
    parsed: list[dict[str, Any]] = []
    lean.meta.events.register("before-parse.swf.PollForDecisionTask", lambda **kw: parsed.append(kw))
    assert historyparse.install(lean) and historyparse.install(lean)  # idempotent
    expected = plain.poll_for_decision_task(domain="d", taskList={"name": "t"})
    found = lean.poll_for_decision_task(domain="d", taskList={"name": "t"})
    assert found == expected
    assert isinstance(found["events"][0]["eventTimestamp"], datetime.datetime)
    assert parsed and parsed[0]["response_dict"]["body"] == b"{}"  # botocore parsed nothing
    task = poll_decision_task(lean, "d", "t", "me", HistoryCache())
    assert task is not None and [e["eventId"] for e in task.events] == [1, 2, 3]


def test_the_decider_loop_installs_it_and_errors_stay_botocores() -> None:
    from swf_support import country_plan

    swf = _client()
    bodies = [
        (json.dumps(PAGE).encode(), 200),
        (b'{"__type": "com.amazonaws.swf#UnknownResourceFault", "message": "gone"}', 400),
    ]
    swf.meta.events.register("before-send.swf", lambda **kw: _served(*bodies.pop(0))(**kw))
    DeciderLoop(country_plan(), swf)
    seen: list[bytes] = []
    swf.meta.events.register(
        "before-parse.swf.PollForDecisionTask", lambda response_dict, **_: seen.append(response_dict["body"])
    )
    assert swf.poll_for_decision_task(domain="d", taskList={"name": "t"})["taskToken"] == "tok"
    try:
        swf.poll_for_decision_task(domain="d", taskList={"name": "t"})
    except swf.exceptions.UnknownResourceFault as error:
        assert error.response["Error"]["Message"] == "gone"
    else:
        raise AssertionError("no error")
    assert seen[0] == b"{}" and seen[1] != b"{}"  # the page parsed leanly, the error by botocore
