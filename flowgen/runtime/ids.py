"""Deterministic SWF activity ids and type names, shared by compiler and decider."""

from __future__ import annotations

REVERT_SUFFIX = ".revert"


def instance_id(activity: str, index: int | None) -> str:
    """`activity` for a single instance, `activity-7` for the 8th generated one.

    The same instance keeps its id across attempts (SWF allows reuse once the
    previous attempt closed), so a replay always finds it again.
    """
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
    return instance_id(activity, index) + REVERT_SUFFIX
