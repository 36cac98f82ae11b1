"""Deterministic SWF activity ids and type names, shared by compiler and decider."""

from __future__ import annotations

import hashlib

from .limits import MAX_ID

REVERT_SUFFIX = ".revert"


def instance_id(activity: str, index: int | None) -> str:
    """`activity` for a single instance, `activity-7` for the 8th generated one.

    The same instance keeps its id across attempts (SWF allows reuse once the
    previous attempt closed), so a replay always finds it again.
    """
    return activity if index is None else f"{activity}-{index}"


def revert_type_name(activity: str) -> str:
    """Reverts are their own activity type; `.` cannot occur in an activity name."""
    return activity + REVERT_SUFFIX


def revert_id(activity: str, index: int | None) -> str:
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
