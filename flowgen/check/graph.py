"""The `requires` graph: unknown names, cycles (named in order), topological order."""

from __future__ import annotations

import heapq

from flowgen.diagnostics import Diagnostic, show
from flowgen.spec.models import Spec
from flowgen.suggest import did_you_mean


def check_requires(spec: Spec) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    names = list(spec.activities)
    for name, activity in spec.activities.items():
        seen: set[str] = set()
        for index, required in enumerate(activity.requires):
            path = ("activities", name, "requires", index)
            if required == name:
                diagnostics.append(Diagnostic(path, f"{name} cannot require itself"))
            elif required not in spec.activities:
                hint = did_you_mean(required, names)
                diagnostics.append(Diagnostic(path, f"unknown activity {show(required)}{hint}"))
            elif required in seen:
                diagnostics.append(Diagnostic(path, f"{required} is listed twice"))
            seen.add(required)
    diagnostics.extend(_cycles(spec))
    return diagnostics


def _edges(spec: Spec) -> dict[str, list[str]]:
    return {
        name: [r for r in activity.requires if r in spec.activities and r != name]
        for name, activity in spec.activities.items()
    }


def _cycles(spec: Spec) -> list[Diagnostic]:
    """One diagnostic per cycle, naming it in dependency order from its first activity."""
    edges = _edges(spec)
    order = {name: index for index, name in enumerate(spec.activities)}
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    found: list[list[str]] = []
    for start in spec.activities:
        if state.get(start):
            continue
        # Iterative depth-first search: hostile specs may chain thousands of activities.
        stack: list[tuple[str, int]] = [(start, 0)]
        path: list[str] = []
        while stack:
            node, child = stack.pop()
            if child == 0:
                state[node] = 1
                path.append(node)
            targets = edges[node]
            if child < len(targets):
                stack.append((node, child + 1))
                target = targets[child]
                if state.get(target) == 1:
                    found.append(path[path.index(target) :])
                elif not state.get(target):
                    stack.append((target, 0))
            else:
                state[node] = 2
                path.pop()
    diagnostics = []
    reported: set[frozenset[str]] = set()
    for cycle in found:
        key = frozenset(cycle)
        if key in reported:
            continue
        reported.add(key)
        # Start at the cycle's first activity in spec order; `a -> b` reads "a requires b".
        first = min(range(len(cycle)), key=lambda i: order[cycle[i]])
        ring = cycle[first:] + cycle[:first]
        text = " -> ".join(ring + [ring[0]])
        name, required = ring[0], ring[1 % len(ring)]
        index = spec.activities[name].requires.index(required)
        diagnostics.append(
            Diagnostic(
                ("activities", name, "requires", index),
                f"requires form a cycle: {text} (each requires the next)",
            )
        )
    return diagnostics


def topological_order(spec: Spec) -> list[str]:
    """Activities so that each comes after what it requires; spec order breaks ties.

    Activities on a cycle (reported by `check_requires`) are appended in spec
    order, so later checks can still run.
    """
    edges = _edges(spec)
    order = {name: index for index, name in enumerate(spec.activities)}
    waiting = {name: len(set(required)) for name, required in edges.items()}
    dependents: dict[str, list[str]] = {name: [] for name in spec.activities}
    for name, required in edges.items():
        for r in set(required):
            dependents[r].append(name)
    ready = [order[name] for name, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    names = list(spec.activities)
    result: list[str] = []
    while ready:
        name = names[heapq.heappop(ready)]
        result.append(name)
        for dependent in dependents[name]:
            waiting[dependent] -= 1
            if waiting[dependent] == 0:
                heapq.heappush(ready, order[dependent])
    placed = set(result)
    return result + [name for name in names if name not in placed]


def upstream(spec: Spec) -> dict[str, set[str]]:
    """Every activity's direct and transitive requirements."""
    edges = _edges(spec)
    found: dict[str, set[str]] = {}
    # In topological order each activity's requirements are done: unite theirs (a chain
    # of thousands stays fast). Activities on or after a cycle are searched one by one.
    for name in topological_order(spec):
        if all(required in found for required in edges[name]):
            found[name] = set(edges[name]).union(*(found[required] for required in edges[name]))
            continue
        seen: set[str] = set()
        stack = list(edges[name])
        while stack:
            current = stack.pop()
            if current not in seen:
                seen.add(current)
                stack.extend(edges[current])
        found[name] = seen
    return {name: found[name] for name in spec.activities}
