"""Per-activity rules that span several keys: handlers, external, reverts, ids (type names: typenames.py)."""

from __future__ import annotations

import sys

from flowgen.check.effective import effective
from flowgen.check.references import Analysis
from flowgen.diagnostics import Diagnostic, Severity, show
from flowgen.runtime.ids import attempt_id, instance_id, revert_id
from flowgen.runtime.limits import MAX_ID
from flowgen.spec.models import Spec
from flowgen.spec.names import package_name_problem


def check_package_name(spec: Spec) -> list[Diagnostic]:
    """The workflow's package must not shadow a module that it, Python or its handlers need."""
    handlers = [h for a in spec.activities.values() for h in (a.handler, a.revert) if h is not None]
    problem = package_name_problem(spec.workflow.name, handlers)
    return [] if problem is None else [Diagnostic(("workflow", "name"), problem)]


def standard_library_handler(handler: str) -> str | None:
    """A warning when `handler` is a function of Python itself (`os:system`, `builtins:eval`)."""
    top = handler.split(":")[0].split(".")[0]
    if top not in sys.stdlib_module_names and top != "builtins":
        return None
    return (
        f"{show(handler)} is a function of Python itself, not of your project: the worker calls it "
        "with whatever the activity's inputs carry, the workflow input included. A spec is code: "
        "review it as code (docs/trust.md)"
    )


def check_activities(spec: Spec, analysis: Analysis) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    for name, activity in spec.activities.items():
        base = ("activities", name)
        if activity.external:
            if activity.handler is not None:
                diagnostics.append(
                    Diagnostic(
                        base + ("handler",),
                        "an external activity has no handler here; remove handler or external",
                    )
                )
            if activity.revert is not None:
                diagnostics.append(
                    Diagnostic(
                        base + ("revert",),
                        "an external activity cannot have a revert: this package runs no worker code for it",
                    )
                )
        else:
            for key in ("handler", "revert"):
                handler = getattr(activity, key)
                warning = None if handler is None else standard_library_handler(handler)
                if warning is not None:
                    diagnostics.append(Diagnostic(base + (key,), warning, severity=Severity.WARNING))
        if not activity.external and activity.handler is None:
            diagnostics.append(
                Diagnostic(
                    base, f"{name} needs a handler (package.module:function), or external: true", at_key=True
                )
            )
        if activity.max_items is not None and not activity.generators:
            diagnostics.append(
                Diagnostic(base + ("max_items",), "max_items applies only to activities with generators")
            )
        if activity.max_concurrency and not activity.generators:
            diagnostics.append(
                Diagnostic(
                    base + ("max_concurrency",), "max_concurrency applies only to activities with generators"
                )
            )
        if activity.shard_size is not None and not activity.generators:
            diagnostics.append(
                Diagnostic(base + ("shard_size",), "shard_size applies only to activities with generators")
            )
        typing = analysis.activities.get(name)
        last = None if not activity.generators or typing is None else max(typing.max_instances - 1, 0)
        # Each attempt has its own id (`#N` after the instance's), and a revert retries as its
        # activity does: the longest id is the last attempt's, of the last instance (or its revert).
        attempts = 1 + effective(spec, name).retry.max_retries
        longest = attempt_id(revert_id(name, last) if activity.revert else instance_id(name, last), attempts)
        if len(longest) > MAX_ID:
            which, fix = "", "shorten the name"
            if attempts > 1:
                which, fix = f" (attempt {attempts})", "shorten the name or allow fewer retries"
            diagnostics.append(
                Diagnostic(
                    base,
                    f"the activity id {longest[:20]}...{which} would be {len(longest)} characters; SWF allows {MAX_ID}: {fix}",
                    at_key=True,
                )
            )
    return diagnostics
