"""Deterministic SWF activity ids and type names, shared by compiler and decider.

An instance of an activity is named `activity`, or `activity-7` for the 8th generated one, and
its revert `activity.revert` / `activity-7.revert`. Each attempt of an instance is scheduled
under its own activity id: the instance's for the first, then `#2`, `#3`... after it
(`activity-7#3` is the third attempt of `activity-7`). SWF would let a closed task's id be used
again, but moto refuses any id an execution has used, and an id per attempt keeps every attempt
apart in the history and the console. An activity name is a Python identifier, so `-`, `.` and
`#` never occur in it and an id splits back into its instance and attempt one way only.
"""

from __future__ import annotations

import hashlib

from .limits import MAX_ID

REVERT_SUFFIX = ".revert"
# Between an instance's id and the attempt number: SWF allows it in an activity id (no `:`,
# `/`, `|`, control characters or `arn`), and an activity name cannot hold it.
ATTEMPT_MARK = "#"


def instance_id(activity: str, index: int | None) -> str:
    """`activity` for a single instance, `activity-7` for the 8th generated one."""
    return activity if index is None else f"{activity}-{index}"


def default_type_name(workflow: str, activity: str) -> str:
    """An activity's SWF type name unless its spec says `type_name`: `WORKFLOW.ACTIVITY`.

    SWF scopes types per domain, so the workflow's name keeps the types of flows that share a
    domain and an activity key apart."""
    return f"{workflow}.{activity}"


def revert_type_name(name: str) -> str:
    """Reverts are their own activity type: the activity's type name (or, for a handler key,
    its activity's name) with `.revert`."""
    return name + REVERT_SUFFIX


def revert_id(activity: str, index: int | None) -> str:
    """The id of the revert of an instance, as an instance of its own (its attempts follow it)."""
    return instance_id(activity, index) + REVERT_SUFFIX


def shard_workflow_id(parent: str, activity: str, shard: int) -> str:
    """The workflow id of shard `shard` of `activity`: `PARENT.ACTIVITY.SHARD`, within SWF's 256.

    A parent id too long for that keeps its start and a hash of the whole, so two parents whose
    ids share a long start still give their shards different ids. Nothing is added that SWF
    refuses in an id: `.`, `~`, digits, hex and the activity name (an identifier).
    """
    suffix = f".{activity}.{shard}"
    if len(parent) + len(suffix) <= MAX_ID:
        return parent + suffix
    digest = hashlib.sha256(parent.encode()).hexdigest()[:12]
    keep = MAX_ID - len(suffix) - len(digest) - 1
    if keep < 1:
        # An activity name near SWF's own limit: hash it too (the shard number stays readable).
        named = hashlib.sha256(f"{parent}.{activity}".encode()).hexdigest()[:24]
        return f"{parent[:MAX_ID - 64]}~{named}.{shard}"
    return f"{parent[:keep]}~{digest}{suffix}"


def attempt_id(instance: str, attempt: int) -> str:
    """The activity id of attempt `attempt` (1 for the first) of the instance `instance`."""
    return instance if attempt <= 1 else f"{instance}{ATTEMPT_MARK}{attempt}"


def split_attempt_id(activity_id: str) -> tuple[str, int]:
    """(instance id, attempt) of an activity id that `attempt_id` made.

    An id without a well-formed `#N` (N from 2, no leading zero) is a first attempt of an
    instance of that name: `activity-1` is attempt 1 of the instance `activity-1`, never
    attempt 1 of `activity`.
    """
    instance, mark, number = activity_id.rpartition(ATTEMPT_MARK)
    # At most 9 digits: a history of 25,000 events holds fewer attempts, and int() of a
    # hostile history's 5,000 digits would raise.
    well_formed = number.isascii() and number.isdigit() and len(number) <= 9 and number[0] != "0"
    if mark and instance and well_formed and int(number) >= 2:
        return instance, int(number)
    return activity_id, 1
