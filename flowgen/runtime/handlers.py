"""Finding handlers by the `package.module:function` paths a spec names."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from .ids import revert_type_name
from .plan import ActivityPlan, FlowPlan


def handler_key(activity: ActivityPlan, revert: bool = False) -> str:
    """The key of an activity's handler in a `Handlers` mapping: the activity's name, and
    `ACTIVITY.revert` for its revert (whatever its SWF type is called)."""
    return revert_type_name(activity.name) if revert else activity.name


class HandlerError(Exception):
    """A handler path that cannot be imported; the message says which and why."""


def import_handler(path: str, activity: str | None = None) -> Callable[..., Any]:
    """The function at `path`; HandlerError names the module (and the activity) if it cannot be had."""
    module_name, _, attribute = path.partition(":")
    of = f"handler of activity {activity}" if activity else f"handler {path}"
    try:
        module = importlib.import_module(module_name)
    # Whatever the module raises while it runs, SystemExit included, is its failure to import.
    except (Exception, SystemExit) as error:
        raise HandlerError(f"cannot import {module_name} ({of}): {_one_line(error)}") from None
    handler = getattr(module, attribute, None)
    if not callable(handler):
        raise HandlerError(f"{module_name} has no function {attribute} ({of})")
    return handler  # type: ignore[no-any-return]


def check_imports(plan: FlowPlan) -> None:
    """Import every handler the spec names, so that one that cannot be imported is named with its
    activity (HandlerError) before anything else happens."""
    for activity in plan.activities:
        if activity.handler is not None:
            import_handler(activity.handler, activity.name)
        if activity.revert is not None:
            import_handler(activity.revert, handler_key(activity, revert=True))


def _one_line(error: BaseException) -> str:
    try:
        text = str(error)
    except Exception:  # an exception whose __str__ fails still names its type
        text = ""
    text = " ".join(text.split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def handlers_for(plan: FlowPlan) -> dict[str, Callable[..., Any]]:
    """Handler key (`handler_key`) -> handler, imported by the spec's paths, for every activity (and
    revert) this package runs; an external activity has none here."""
    handlers: dict[str, Callable[..., Any]] = {}
    for activity in plan.activities:
        if activity.handler is not None:
            handlers[handler_key(activity)] = import_handler(activity.handler, activity.name)
        if activity.revert is not None:
            name = handler_key(activity, revert=True)
            handlers[name] = import_handler(activity.revert, name)
    return handlers


def callables(handlers: Mapping[str, object]) -> dict[str, Callable[..., Any]]:
    """A typed `Handlers` mapping as the engine takes it; every value must be callable."""
    found: dict[str, Callable[..., Any]] = {}
    for name, handler in handlers.items():
        if not callable(handler):
            raise TypeError(f"the handler for {name} is {type(handler).__name__}, not a function")
        found[name] = handler
    return found
