"""Values too large for SWF (flowgen/runtime/payloads.py): references, stores, the cache, the spec's
`payloads` key, and flows whose values cross the threshold on the local runner."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import pathlib
import sys
from typing import Any

import pytest

from flowgen.compiler import compile_spec
from flowgen.plan import build_plan
from flowgen.runtime.limits import MAX_PAYLOAD
from flowgen.runtime.local import LocalRunner
from flowgen.runtime.payloads import (
    DEFAULT_THRESHOLD,
    MAX_KEY_BYTES,
    FolderStore,
    MemoryStore,
    PayloadCache,
    PayloadError,
    Payloads,
    is_reference,
    object_key,
    parse_reference,
    s3_location_problem,
)
from flowgen.runtime.plan import FlowPlan, PayloadsPlan
from flowgen.runtime.task import TaskContext, run_task

ROOT = pathlib.Path(__file__).resolve().parent.parent
E2E = ROOT / "tests" / "e2e"
if str(E2E) not in sys.path:
    sys.path.append(str(E2E))

import big_flow_handlers  # noqa: E402

SETTINGS = PayloadsPlan(bucket="bucket", prefix="pre/fix", threshold=100)


def payloads(store: Any = None, threshold: int = 100) -> Payloads:
    settings = dataclasses.replace(SETTINGS, threshold=threshold)
    return Payloads(settings, "flow", store if store is not None else MemoryStore())


def big_plan(with_payloads: bool = True) -> FlowPlan:
    compiled = compile_spec(str(E2E / "big_flow.yaml"))
    assert compiled.checked is not None, compiled.diagnostics
    plan = build_plan(compiled.checked)
    return plan if with_payloads else dataclasses.replace(plan, payloads=None)


HANDLERS = {"make": big_flow_handlers.make, "join": big_flow_handlers.join}


# -- offload and resolve -----------------------------------------------------------


def test_a_value_over_the_threshold_round_trips_through_a_reference() -> None:
    store = MemoryStore()
    text = json.dumps({"x": "é" * 200})
    reference = payloads(store).offload(text, "wf-1", "run-1")
    assert is_reference(reference) and len(reference) < 300
    found = parse_reference(reference)
    data = text.encode()
    assert found.sha256 == hashlib.sha256(data).hexdigest() and found.size == len(data)
    assert found.key == f"pre/fix/flow/wf-1/run-1/{found.sha256}"
    assert store.objects[found.key] == data
    # A fresh reader (empty cache) reads it from the store.
    assert payloads(store).resolve(reference, "the value") == text


def test_the_threshold_is_inclusive() -> None:
    store = MemoryStore()
    at = json.dumps("a" * 98)  # 100 characters
    assert len(at) == 100
    assert payloads(store).offload(at, "wf", "run") == at
    over = json.dumps("a" * 99)
    assert is_reference(payloads(store).offload(over, "wf", "run"))
    assert len(store.objects) == 1


def test_a_value_whose_sha256_differs_is_refused() -> None:
    store = MemoryStore()
    reference = payloads(store).offload("x" * 500, "wf", "run")
    key = parse_reference(reference).key
    store.objects[key] = b"y" * 500
    with pytest.raises(PayloadError) as raised:
        payloads(store).resolve(reference, "the result of a-1")
    assert raised.value.permanent
    assert "the result of a-1" in str(raised.value) and "sha256" in str(raised.value)


def test_a_missing_value_is_refused() -> None:
    reference = payloads(MemoryStore()).offload("x" * 500, "wf", "run")
    with pytest.raises(PayloadError) as raised:
        payloads(MemoryStore()).resolve(reference, "the workflow input")
    assert raised.value.permanent and "the workflow input" in str(raised.value)


def test_a_store_that_fails_is_a_transient_error() -> None:
    class Down:
        def put(self, key: str, data: bytes) -> None:
            raise OSError("unreachable")

        def get(self, key: str) -> bytes:
            raise OSError("unreachable")

    with pytest.raises(PayloadError) as raised:
        payloads(Down()).offload("x" * 500, "wf", "run")
    assert not raised.value.permanent
    reference = payloads().offload("x" * 500, "wf", "run")
    with pytest.raises(PayloadError) as raised:
        payloads(Down()).resolve(reference, "v")
    assert not raised.value.permanent


def test_a_malformed_reference_is_refused() -> None:
    with pytest.raises(PayloadError):
        payloads().resolve('{"$flowgen_payload":{"key":"k","size":1}}', "v")
    with pytest.raises(PayloadError):
        payloads().resolve('{"$flowgen_payload":{"key":"k","size":1,"sha256":"zz"}}', "v")


def test_offloading_twice_is_harmless(tmp_path: pathlib.Path) -> None:
    store = FolderStore(tmp_path)
    first = payloads(store).offload("v" * 500, "wf", "run")
    second = payloads(store).offload("v" * 500, "wf", "run")
    assert first == second
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].read_bytes() == b"v" * 500


def test_a_folder_store_keeps_every_key_inside_its_folder(tmp_path: pathlib.Path) -> None:
    store = FolderStore(tmp_path / "store")
    store.put("p/flow/../run/abc", b"data")
    assert store.get("p/flow/../run/abc") == b"data"
    assert all(tmp_path / "store" in p.parents for p in tmp_path.rglob("*") if p.is_file())
    with pytest.raises(PayloadError):
        store.get("p/flow/other/run/abc")


def test_without_payloads_values_pass_through() -> None:
    plain = Payloads(None, "flow")
    text = "x" * (MAX_PAYLOAD + 1)
    assert plain.offload(text, "wf", "run") == text
    assert plain.resolve(text, "v") == text


def test_a_long_key_fits_s3() -> None:
    sha = "0" * 64
    key = object_key("p" * 200, "w" * 256, "日" * 256, "r" * 64, sha)
    assert len(key.encode()) <= MAX_KEY_BYTES and key.startswith("p" * 200 + "/") and key.endswith(sha)


def test_the_cache_is_bounded_by_bytes_and_keeps_the_most_recent() -> None:
    cache = PayloadCache(max_bytes=100)
    cache.put("a", "a" * 40, 40)
    cache.put("b", "b" * 40, 40)
    assert cache.get("a") == "a" * 40  # a is now the most recent
    cache.put("c", "c" * 40, 40)
    assert cache.get("b") is None and cache.get("a") and cache.get("c")
    cache.put("huge", "h" * 200, 200)
    assert cache.get("huge") is None


def test_a_value_is_read_once_per_process() -> None:
    reads: list[str] = []

    class Counting(MemoryStore):
        def get(self, key: str) -> bytes:
            reads.append(key)
            return super().get(key)

    store = Counting()
    reference = payloads(store).offload("x" * 500, "wf", "run")
    reader = payloads(store)
    events = [
        {
            "eventId": 1,
            "eventType": "WorkflowExecutionStarted",
            "workflowExecutionStartedEventAttributes": {"input": reference},
        }
    ]
    for _ in range(3):
        resolved = reader.resolve_events(events)
        assert resolved[0]["workflowExecutionStartedEventAttributes"]["input"] == "x" * 500
    assert len(reads) == 1
    assert events[0]["workflowExecutionStartedEventAttributes"]["input"] == reference  # not changed


# -- the spec ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "location",
    [
        "bucket/prefix",
        "s3://Bucket/prefix",
        "s3://ab/prefix",
        "s3://my..bucket/prefix",
        "s3://192.168.1.2/prefix",
        "s3://-bucket/prefix",
        "s3://xn--bucket/prefix",
        "s3://bucket/",
        "s3://bucket//prefix",
        "s3://bucket/prefix/",
        "s3://bucket/a/../b",
        "s3://bucket/a b",
        "s3://bucket/a*",
    ],
)
def test_an_s3_location_that_is_not_one_is_refused(location: str) -> None:
    assert s3_location_problem(location) is not None


@pytest.mark.parametrize("location", ["s3://bucket", "s3://my.bucket-1/runs", "s3://b-1/a/b_c/d.e"])
def test_an_s3_location(location: str) -> None:
    assert s3_location_problem(location) is None


def _spec(tmp_path: pathlib.Path, payloads_text: str) -> pathlib.Path:
    spec = (
        (E2E / "big_flow.yaml")
        .read_text()
        .replace("payloads:\n  s3: s3://flowgen-e2e-payloads/runs\n", payloads_text)
    )
    path = tmp_path / "spec.yaml"
    path.write_text(spec)
    return path


def test_the_payloads_key_reaches_the_plan(tmp_path: pathlib.Path) -> None:
    compiled = compile_spec(str(_spec(tmp_path, "payloads: {s3: 's3://b-1/x/y', threshold: 5000}\n")))
    assert compiled.checked is not None
    plan = build_plan(compiled.checked)
    assert plan.payloads == PayloadsPlan("b-1", "x/y", 5000)
    assert FlowPlan.from_data(plan.to_data()) == plan
    default = build_plan(compile_spec(str(E2E / "big_flow.yaml")).checked)  # type: ignore[arg-type]
    assert default.payloads == PayloadsPlan("flowgen-e2e-payloads", "runs", DEFAULT_THRESHOLD)
    assert "payloads" not in dataclasses.replace(plan, payloads=None).to_data()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("payloads: {s3: 's3://B/x'}\n", "payloads.s3"),
        ("payloads: {s3: 's3://bucket/x/'}\n", "payloads.s3"),
        ("payloads: {s3: 's3://bucket', threshold: 0}\n", "payloads.threshold"),
        (f"payloads: {{s3: 's3://bucket', threshold: {DEFAULT_THRESHOLD + 1}}}\n", "payloads.threshold"),
        ("payloads: {bucket: x}\n", "payloads"),
    ],
)
def test_a_bad_payloads_key_is_located(tmp_path: pathlib.Path, text: str, where: str) -> None:
    compiled = compile_spec(str(_spec(tmp_path, text)))
    assert compiled.checked is None
    assert any(where in d.render() for d in compiled.errors), [d.render() for d in compiled.errors]


# -- flows over the threshold, locally ---------------------------------------------


def test_a_local_run_keeps_large_values_out_of_the_history() -> None:
    runner = LocalRunner(big_plan(), HANDLERS)
    note = "n" * 40_000
    outcome = runner.run({"size": 1000, "note": note})
    assert outcome.status == "COMPLETED", outcome.reason
    joined = "".join(big_flow_handlers.label(n, 1000) for n in range(40))
    assert outcome.result == {"total": 80_000, "joined": joined}
    for event in outcome.history:
        assert len(json.dumps(event, default=str)) < 2000, event["eventType"]
    store = runner.payloads.store()
    assert isinstance(store, MemoryStore)
    assert any(key.startswith("runs/big_flow/local/input/") for key in store.objects)


def test_a_literal_over_swfs_limit_compiles_with_payloads_and_reaches_its_handler(
    tmp_path: pathlib.Path,
) -> None:
    note = "n" * 40_000
    text = (E2E / "big_flow.yaml").read_text().replace("note: input.note", f'note: {{value: "{note}"}}')
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    compiled = compile_spec(str(path))
    assert compiled.checked is not None, [d.render() for d in compiled.errors]
    outcome = LocalRunner(build_plan(compiled.checked), HANDLERS).run({"size": 10, "note": ""})
    assert outcome.status == "COMPLETED", outcome.reason
    assert outcome.result is not None and outcome.result["total"] == 400 + 40_000
    # Without payloads, the compiler refuses it where it is written, and says what to set.
    path.write_text(text.replace("payloads:\n  s3: s3://flowgen-e2e-payloads/runs\n", ""))
    refused = compile_spec(str(path))
    assert refused.checked is None
    [error] = [d.render() for d in refused.errors]
    assert "activities.join.inputs.note.value: the literal is 40,002 characters" in error
    assert "payloads.s3" in error


def test_a_local_run_without_payloads_fails_naming_the_value() -> None:
    outcome = LocalRunner(big_plan(with_payloads=False), HANDLERS).run({"size": 1000, "note": ""})
    assert outcome.status == "FAILED"
    assert outcome.reason.startswith("the input of join (activity join) is 40,")
    assert "SWF allows 32,768" in outcome.reason and "payloads.s3" in outcome.reason


def test_a_local_input_too_large_without_payloads_is_refused() -> None:
    with pytest.raises(ValueError, match=r"the workflow input is .* payloads\.s3"):
        LocalRunner(big_plan(with_payloads=False), HANDLERS).run({"size": 1, "note": "n" * MAX_PAYLOAD})


def test_a_result_too_large_without_payloads_fails_its_attempt() -> None:
    plan = big_plan(with_payloads=False)
    context = TaskContext("d", "wf", "run", "join", 1)
    envelope = json.dumps({"input": {"labels": ["x" * 40_000], "note": ""}, "attempt": 1})
    outcome = run_task(plan.activity("join"), big_flow_handlers.join, envelope, context)
    assert outcome.reason is not None and outcome.reason.startswith(
        "ResultTooLarge: the result of join is 40,"
    )
    assert "payloads.s3" in outcome.reason


def test_a_worker_input_that_cannot_be_read_fails_the_attempt() -> None:
    plan = big_plan()
    reference = payloads().offload("x" * 500, "wf", "run")
    context = TaskContext("d", "wf", "run", "join", 1)
    outcome = run_task(plan.activity("join"), big_flow_handlers.join, reference, context, False, payloads())
    assert outcome.reason is not None and outcome.reason.startswith(
        "PayloadError: the input of join cannot be read"
    )


def test_the_longest_reference_fits_its_room() -> None:
    from flowgen.runtime.payloads import MAX_REFERENCE, Reference

    key = object_key("p" * 200, "w" * 256, "日" * 256, "r" * 64, "0" * 64)
    text = Reference(key, 10**12, "0" * 64).text()
    assert len(json.dumps(text).encode()) <= MAX_REFERENCE


# -- the docs ------------------------------------------------------------------------


def _doc_block(marker: str) -> Any:
    import re

    text = (ROOT / "docs" / "running-on-swf.md").read_text()
    found = re.search(rf"^<!-- {marker} -->\n```json\n(.*?)^```$", text, re.M | re.S)
    assert found, marker
    return json.loads(found.group(1))


def test_the_documented_iam_statement_is_what_flowgen_renders(tmp_path: pathlib.Path) -> None:
    from flowgen.render import iam

    spec = _spec(tmp_path, "payloads: {s3: 's3://acme-flow-payloads/country'}\n")
    compiled = compile_spec(str(spec))
    assert compiled.checked is not None
    plan = build_plan(compiled.checked)
    statement = _doc_block("payloads-iam")
    for role in ("decider", "worker", "starter"):
        assert statement in iam.POLICIES[role](plan)["Statement"]


def test_the_documented_lifecycle_rule_expires_the_prefix_after_the_retention() -> None:
    (rule,) = _doc_block("payloads-lifecycle")["Rules"]
    assert rule["Filter"] == {"Prefix": "country/"} and rule["Status"] == "Enabled"
    # The doc's flow: a 1-day execution timeout and the default 30-day retention.
    assert rule["Expiration"]["Days"] >= 1 + 30
