"""Operating executions on SWF: reading one's status (with its child workflow shards), listing,
cancelling and terminating. The commands behind them are in `entry.py`; what a history means is
in `status.py`.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from .limits import MAX_PAGE_SIZE
from .payloads import PayloadError, Payloads
from .plan import FlowPlan
from .status import ExecutionStatus, merge_child, summarize

if TYPE_CHECKING:
    from mypy_boto3_swf import SWFClient

Event = dict[str, Any]


class NotFound(Exception):
    """No execution with this workflow id (or run id) in the domain."""


def history_pages(client: SWFClient, domain: str, workflow_id: str, run_id: str) -> Iterator[list[Event]]:
    """An execution's history, page by page (at most 1,000 events each), oldest first."""
    request: dict[str, Any] = {
        "domain": domain,
        "execution": {"workflowId": workflow_id, "runId": run_id},
        "maximumPageSize": MAX_PAGE_SIZE,
    }
    while True:
        page = client.get_workflow_execution_history(**request)
        yield cast("list[Event]", page.get("events", []))
        token = page.get("nextPageToken")
        if not token:
            return
        request["nextPageToken"] = token


def read_events(client: SWFClient, domain: str, workflow_id: str, run_id: str) -> list[Event]:
    events: list[Event] = []
    for page in history_pages(client, domain, workflow_id, run_id):
        events.extend(page)
    # Page order is SWF's business; the reader wants the oldest first.
    if all(isinstance(e.get("eventId"), int) for e in events):
        events.sort(key=lambda e: int(e["eventId"]))
    return events


def latest_run(client: SWFClient, domain: str, workflow_type: str, version: str, workflow_id: str) -> str:
    """The run id of the newest execution of this type with this workflow id: the open one (SWF
    keeps at most one open per id), else the newest closed one still kept."""
    found = _executions(client, domain, workflow_type, None, workflow_id, version)
    if not found:
        found = _executions(client, domain, workflow_type, _EPOCH, workflow_id, version)
    if not found:
        raise NotFound(f"no execution with workflow id {workflow_id!r} in domain {domain!r}")
    return max(found, key=lambda e: (e.status == "OPEN", e.started)).run_id


def execution_status(
    plan: FlowPlan,
    client: SWFClient,
    domain: str,
    workflow_id: str,
    run_id: str,
    payloads: Payloads | None = None,
) -> ExecutionStatus:
    """The execution's status, its child workflow shards' instances counted under their activities.

    With `payloads`, the values kept in S3 (the input, results, every shard's input) are read as
    the decider reads them, so generators expand and failed instances show their values.
    """
    events = _resolved(read_events(client, domain, workflow_id, run_id), payloads)
    if not events:
        raise NotFound(f"no history for {workflow_id!r} run {run_id!r} in domain {domain!r}")
    status = summarize(plan, events, workflow_id, run_id)
    shards = {s.workflow: s for s in plan.shards}
    for child in status.children:
        shard = shards.get(child.workflow_type)
        if shard is None:
            continue
        child_events = _resolved(read_events(client, domain, child.workflow_id, child.run_id), payloads)
        merge_child(status, plan, child, summarize(shard, child_events, child.workflow_id, child.run_id))
    return status


def _resolved(events: list[Event], payloads: Payloads | None) -> list[Event]:
    if payloads is None:
        return events
    try:
        return payloads.resolve_events(events)
    except PayloadError:
        # A value gone from S3 (or not readable): the history's counts stand without it.
        return events


_EPOCH = datetime.datetime(1970, 1, 2, tzinfo=datetime.UTC)


@dataclass(frozen=True)
class Listed:
    workflow_id: str
    run_id: str
    status: str  # OPEN or the close status
    started: datetime.datetime
    closed: datetime.datetime | None


def list_executions(
    client: SWFClient, domain: str, workflow_type: str, version: str, closed_since: datetime.datetime | None
) -> list[Listed]:
    """This workflow type's (name and version) open executions, and those closed since
    `closed_since`, open first then newest first."""
    found = _executions(client, domain, workflow_type, closed_since, version=version)
    return sorted(found, key=lambda e: (e.status != "OPEN", -e.started.timestamp(), e.workflow_id))


def _executions(
    client: SWFClient,
    domain: str,
    workflow_type: str,
    closed_since: datetime.datetime | None,
    workflow_id: str | None = None,
    version: str = "",
) -> list[Listed]:
    # Always by type, never by execution (SWF takes one filter): the operator's IAM policy
    # may list this workflow type only (swf:typeFilter.name and .version), so a workflow id is
    # looked for among the type's executions.
    base: dict[str, Any] = {"domain": domain, "typeFilter": {"name": workflow_type, "version": version}}
    found: list[Listed] = []
    requests: list[dict[str, Any]] = [{**base, "startTimeFilter": {"oldestDate": _EPOCH}}]
    if closed_since is not None:
        requests.append({**base, "closeTimeFilter": {"oldestDate": closed_since}})
    for request in requests:
        while True:
            if "closeTimeFilter" in request:
                page: Any = client.list_closed_workflow_executions(**request)
            else:
                page = client.list_open_workflow_executions(**request)
            for info in page.get("executionInfos", []):
                execution = info["execution"]
                if workflow_id is not None and execution["workflowId"] != workflow_id:
                    continue
                found.append(
                    Listed(
                        execution["workflowId"],
                        execution["runId"],
                        (
                            str(info.get("closeStatus", "OPEN"))
                            if info.get("executionStatus") == "CLOSED"
                            else "OPEN"
                        ),
                        info["startTimestamp"],
                        info.get("closeTimestamp"),
                    )
                )
            token = page.get("nextPageToken")
            if not token:
                break
            request["nextPageToken"] = token
    return found


def cancel(client: SWFClient, domain: str, workflow_id: str, run_id: str | None) -> None:
    """Request the cancellation of an execution (its open run when `run_id` is None)."""
    if run_id:
        client.request_cancel_workflow_execution(domain=domain, workflowId=workflow_id, runId=run_id)
    else:
        client.request_cancel_workflow_execution(domain=domain, workflowId=workflow_id)


def terminate(client: SWFClient, domain: str, workflow_id: str, run_id: str | None, reason: str) -> None:
    """Terminate an execution at once (its open run when `run_id` is None); its child policy applies."""
    if run_id:
        client.terminate_workflow_execution(
            domain=domain, workflowId=workflow_id, runId=run_id, reason=reason
        )
    else:
        client.terminate_workflow_execution(domain=domain, workflowId=workflow_id, reason=reason)
