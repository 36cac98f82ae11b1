"""Deterministic SWF activity ids and type names, shared by compiler and decider."""

from __future__ import annotations

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
