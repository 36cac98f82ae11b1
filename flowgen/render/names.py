"""Python names and type expressions for generated code, derived from the plan."""

from __future__ import annotations

from flowgen.runtime.plan import ActivityPlan, FlowPlan, TypeRef


def camel(name: str) -> str:
    """`activity_2` -> `Activity2`; a leading underscore is kept out of class names."""
    parts = [part for part in name.split("_") if part]
    return "".join(part[:1].upper() + part[1:] for part in parts) or "Activity"


class Names:
    """Every class name a generated package defines, unique across the package."""

    RESERVED = frozenset({"WorkflowInput", "WorkflowResult", "Handlers", "Any", "TypedDict", "Protocol"})

    def __init__(self, plan: FlowPlan) -> None:
        self._base: dict[str, str] = {}
        taken: set[str] = set(self.RESERVED)
        for activity in plan.activities:
            base = camel(activity.name)
            candidate, counter = base, 2
            while any(f"{candidate}{suffix}" in taken for suffix in self.SUFFIXES):
                candidate, counter = f"{base}{counter}", counter + 1
            taken.update(f"{candidate}{suffix}" for suffix in self.SUFFIXES)
            self._base[activity.name] = candidate

    SUFFIXES = ("Input", "Output", "Handler", "HandlerWithContext", "Revert", "RevertWithContext")

    def of(self, activity: ActivityPlan | str, suffix: str) -> str:
        name = activity if isinstance(activity, str) else activity.name
        return self._base[name] + suffix


def python_type(t: TypeRef, names: Names) -> str:
    """The annotation for a spec type, e.g. `list[datetime.date]` or `int | None`."""
    kind = t.kind
    if kind == "str":
        return "str"
    if kind in ("int", "float", "bool"):
        return kind
    if kind == "date":
        return "datetime.date"
    if kind == "datetime":
        return "datetime.datetime"
    if kind == "any":
        return "Any"
    if kind == "none":
        return "None"
    assert kind in ("list", "dict", "optional", "record"), kind
    if kind == "record":
        return names.of(t.name, "Output")
    assert t.item is not None
    item = python_type(t.item, names)
    if kind == "list":
        return f"list[{item}]"
    if kind == "dict":
        return f"dict[str, {item}]"
    return f"{item} | None"
