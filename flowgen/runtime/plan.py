"""The plan: a valid spec fully resolved, immutable, and convertible to plain data.

The compiler builds it (flowgen.plan); generated packages hold it as constants
and hand it to the decider, worker and local runner. Defaults are applied,
durations are seconds (None means SWF's NONE, no limit), retry policies are
normalised, references are resolved to typed sources, and activities are in
topological order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .ids import revert_type_name
from .limits import MAX_OPEN_CHILDREN

# Source kinds: where an input, result field or generator list comes from.
INPUT = "input"  # a workflow input field: `name`
AXIS = "axis"  # this instance's value on its axis `name`
OUTPUT = "output"  # the output of single-instance activity `name` (`field`, or all of it)
EACH = "each"  # the list over every instance of generated activity `name`
LITERAL = "literal"  # `value` itself
# Only in a shard plan: field `field` of this instance's value on its axis `name` (an instance's
# input object, which the parent resolved before starting the child).
ITEM = "item"

# A shard plan's one workflow input: the list of its instances' input objects, in generator order.
SHARD_INPUT = "items"
# A shard plan's one result field: the list of its instances' outputs, in generator order.
SHARD_RESULT = "results"


def shard_type_name(workflow: str, activity: str) -> str:
    """The workflow type of a sharded activity's child executions: `workflow.activity`."""
    return f"{workflow}.{activity}"


def revert_shard_type_name(workflow: str, activity: str) -> str:
    """The workflow type of the child executions that revert a sharded activity's completed shards:
    `workflow.activity.revert`. It is spelled as the activity's revert's activity type is by
    default, but SWF keeps workflow types and activity types apart: they never collide."""
    return revert_type_name(shard_type_name(workflow, activity))


@dataclass(frozen=True)
class TypeRef:
    """A spec type, as the compiler parses it and the runtime checks values against it.

    `kind` is str, int, float, bool, date, datetime, any, none, list, dict,
    optional (with `item`) or record: the whole output of activity `name`,
    whose declared outputs are `fields`."""

    kind: str
    item: TypeRef | None = None
    fields: tuple[tuple[str, TypeRef], ...] = ()
    # For a record: the activity whose whole output it is.
    name: str = ""

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list[{self.item}]"
        if self.kind == "dict":
            return f"dict[str, {self.item}]"
        if self.kind == "optional":
            return f"{self.item} | None"
        if self.kind == "record":
            return f"output of {self.name}"
        if self.kind == "none":
            return "None"
        return self.kind

    @property
    def is_optional(self) -> bool:
        return self.kind == "optional"

    def optional(self) -> TypeRef:
        """`T | None`; types that already admit None stay as they are."""
        return self if self.kind in ("optional", "any", "none") else TypeRef("optional", self)

    def element(self) -> TypeRef | None:
        """The element type when this is a list (`any` for `any`), else None."""
        if self.kind == "list":
            return self.item
        if self.kind == "any":
            return self
        return None

    def to_data(self) -> Any:
        if self.kind in ("list", "dict", "optional"):
            assert self.item is not None
            return [self.kind, self.item.to_data()]
        if self.kind == "record":
            return ["record", self.name, [[k, t.to_data()] for k, t in self.fields]]
        return self.kind

    @staticmethod
    def from_data(data: Any) -> TypeRef:
        if isinstance(data, str):
            return TypeRef(data)
        if data[0] == "record":
            _, name, fields = data
            return TypeRef("record", fields=tuple((k, TypeRef.from_data(t)) for k, t in fields), name=name)
        kind, item = data
        return TypeRef(kind, TypeRef.from_data(item))


@dataclass(frozen=True)
class Source:
    """A resolved reference or a literal."""

    kind: str
    name: str = ""
    field: str | None = None
    value: Any = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"kind": self.kind}
        if self.kind == LITERAL:
            data["value"] = self.value
        else:
            data["name"] = self.name
            if self.field is not None:
                data["field"] = self.field
        return data

    @staticmethod
    def from_data(data: dict[str, Any]) -> Source:
        return Source(data["kind"], data.get("name", ""), data.get("field"), data.get("value"))


@dataclass(frozen=True)
class Generator:
    """One axis. kind: `source` (a list from `source`), `items`, `range` or `date_range`."""

    axis: str
    kind: str
    element: TypeRef
    source: Source | None = None
    items: tuple[Any, ...] = ()
    range: tuple[int, ...] = ()
    # date_range ends: literal ISO dates or sources resolved at run time.
    start: Source | None = None
    end: Source | None = None

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {"axis": self.axis, "kind": self.kind, "element": self.element.to_data()}
        if self.kind == "source":
            assert self.source is not None
            data["source"] = self.source.to_data()
        elif self.kind == "items":
            data["items"] = list(self.items)
        elif self.kind == "range":
            data["range"] = list(self.range)
        else:
            assert self.start is not None and self.end is not None
            data["start"], data["end"] = self.start.to_data(), self.end.to_data()
        return data

    @staticmethod
    def from_data(data: dict[str, Any]) -> Generator:
        def source(key: str) -> Source | None:
            return Source.from_data(data[key]) if key in data else None

        return Generator(
            axis=data["axis"],
            kind=data["kind"],
            element=TypeRef.from_data(data["element"]),
            source=source("source"),
            items=tuple(data.get("items", ())),
            range=tuple(data.get("range", ())),
            start=source("start"),
            end=source("end"),
        )


@dataclass(frozen=True)
class Timeouts:
    """Seconds; None is SWF's NONE (no limit)."""

    schedule_to_start: int | None
    start_to_close: int | None
    schedule_to_close: int | None
    heartbeat: int | None


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 0
    interval: int = 0
    backoff_rate: float = 2.0
    max_interval: int | None = None
    jitter: str = "none"
    # Error names that are retried; None retries every error.
    errors: tuple[str, ...] | None = None


@dataclass(frozen=True)
class ActivityPlan:
    name: str
    # The SWF activity type's name (`WORKFLOW.ACTIVITY` unless the spec says `type_name`); a
    # revert's type adds `.revert` (`revert_type`).
    type_name: str
    version: str
    task_list: str
    handler: str | None
    external: bool
    description: str
    requires: tuple[str, ...]
    generators: tuple[Generator, ...]
    max_items: int | None
    max_concurrency: int
    inputs: tuple[tuple[str, Source], ...]
    input_types: tuple[tuple[str, TypeRef], ...]
    outputs: tuple[tuple[str, TypeRef], ...]
    timeouts: Timeouts
    retry: RetryPolicy
    priority: int | None
    continue_on_failure: bool
    revert: str | None
    # None: not sharded. Else the parent runs at most this many consecutive instances per child
    # workflow execution, whose plan is in FlowPlan.shards (see shard_share and open_shards).
    shard_size: int | None = None
    # Only in a revert shard plan: each instance runs the revert of one completed instance of the
    # sharded activity (its item holds that instance's `input` and `result`); `type_name` is then
    # the revert's activity type.
    reverting: bool = False

    @property
    def generated(self) -> bool:
        return bool(self.generators)

    @property
    def shard_share(self) -> int:
        """The max_concurrency of each of this sharded activity's shards (0: no limit, as in a spec)."""
        assert self.shard_size is not None
        return min(self.max_concurrency, self.shard_size) if self.max_concurrency else 0

    @property
    def open_shards(self) -> int:
        """How many shards of this sharded activity the parent keeps open at once, so that all of
        them together never have more than max_concurrency instances open (SWF's own quota of
        open child executions when max_concurrency is 0)."""
        if not self.max_concurrency:
            return MAX_OPEN_CHILDREN
        return max(1, self.max_concurrency // self.shard_share)

    @property
    def revert_type(self) -> str | None:
        """The name of the revert's activity type, or None without a revert."""
        return None if self.revert is None else revert_type_name(self.type_name)

    def to_data(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type_name": self.type_name,
            "version": self.version,
            "task_list": self.task_list,
            "handler": self.handler,
            "external": self.external,
            "description": self.description,
            "requires": list(self.requires),
            "generators": [g.to_data() for g in self.generators],
            "max_items": self.max_items,
            "max_concurrency": self.max_concurrency,
            "inputs": [[k, s.to_data()] for k, s in self.inputs],
            "input_types": [[k, t.to_data()] for k, t in self.input_types],
            "outputs": [[k, t.to_data()] for k, t in self.outputs],
            "timeouts": {
                "schedule_to_start": self.timeouts.schedule_to_start,
                "start_to_close": self.timeouts.start_to_close,
                "schedule_to_close": self.timeouts.schedule_to_close,
                "heartbeat": self.timeouts.heartbeat,
            },
            "retry": {
                "max_retries": self.retry.max_retries,
                "interval": self.retry.interval,
                "backoff_rate": self.retry.backoff_rate,
                "max_interval": self.retry.max_interval,
                "jitter": self.retry.jitter,
                "errors": None if self.retry.errors is None else list(self.retry.errors),
            },
            "priority": self.priority,
            "continue_on_failure": self.continue_on_failure,
            "revert": self.revert,
            # Written only when set, so an unsharded plan's data is what it was before shards.
            **({"shard_size": self.shard_size} if self.shard_size is not None else {}),
            **({"reverting": True} if self.reverting else {}),
        }

    @staticmethod
    def from_data(data: dict[str, Any]) -> ActivityPlan:
        retry = dict(data["retry"])
        if retry["errors"] is not None:
            retry["errors"] = tuple(retry["errors"])
        return ActivityPlan(
            name=data["name"],
            type_name=data["type_name"],
            version=data["version"],
            task_list=data["task_list"],
            handler=data["handler"],
            external=data["external"],
            description=data["description"],
            requires=tuple(data["requires"]),
            generators=tuple(Generator.from_data(g) for g in data["generators"]),
            max_items=data["max_items"],
            max_concurrency=data["max_concurrency"],
            inputs=tuple((k, Source.from_data(s)) for k, s in data["inputs"]),
            input_types=tuple((k, TypeRef.from_data(t)) for k, t in data["input_types"]),
            outputs=tuple((k, TypeRef.from_data(t)) for k, t in data["outputs"]),
            timeouts=Timeouts(**data["timeouts"]),
            retry=RetryPolicy(**retry),
            priority=data["priority"],
            continue_on_failure=data["continue_on_failure"],
            revert=data["revert"],
            shard_size=data.get("shard_size"),
            reverting=bool(data.get("reverting", False)),
        )


@dataclass(frozen=True)
class PayloadsPlan:
    """Where values over `threshold` JSON characters are kept: s3://`bucket`/`prefix` ("" for none)."""

    bucket: str
    prefix: str
    threshold: int

    def to_data(self) -> dict[str, Any]:
        return {"bucket": self.bucket, "prefix": self.prefix, "threshold": self.threshold}

    @staticmethod
    def from_data(data: dict[str, Any]) -> PayloadsPlan:
        return PayloadsPlan(data["bucket"], data["prefix"], data["threshold"])


@dataclass(frozen=True)
class FlowPlan:
    domain: str
    domain_retention_days: int
    workflow: str
    version: str
    description: str
    task_list: str
    execution_timeout: int
    decision_timeout: int | None
    child_policy: str
    tags: tuple[str, ...]
    input: tuple[tuple[str, TypeRef], ...]
    result: tuple[tuple[str, Source], ...]
    result_types: tuple[tuple[str, TypeRef], ...]
    activities: tuple[ActivityPlan, ...]
    # The AWS partition of the ARNs in the package's IAM policies: aws, aws-cn or aws-us-gov.
    aws_partition: str
    # One shard plan per sharded activity, in activity order: a child workflow type whose one
    # activity runs a slice of that activity's instances (flowgen.plan builds them). A sharded
    # activity with a revert has a revert shard plan too, right after it (`revert_shard_plan`).
    shards: tuple[FlowPlan, ...] = ()
    # Values too large for SWF go to S3; None: they fail, saying so.
    payloads: PayloadsPlan | None = None
    # On a cancel request: "revert" what completed, then close as CANCELED; or "none": close at once.
    on_cancel: str = "revert"
    _by_name: dict[str, ActivityPlan] = field(default_factory=dict, init=False, repr=False, compare=False)
    _by_type: dict[str, tuple[ActivityPlan, bool]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        self._by_name.update({a.name: a for a in self.activities})
        for a in self.activities:
            # A revert shard's activity is the revert: its type is the revert's type.
            self._by_type[a.type_name] = (a, a.reverting)
            if a.revert_type is not None:
                self._by_type[a.revert_type] = (a, True)

    def activity(self, name: str) -> ActivityPlan:
        return self._by_name[name]

    def shard_plan(self, activity: str) -> FlowPlan:
        """The shard plan of sharded activity `activity`."""
        return next(
            s for s in self.shards if s.activities[0].name == activity and not s.activities[0].reverting
        )

    def revert_shard_plan(self, activity: str) -> FlowPlan:
        """The revert shard plan of sharded activity `activity` (which has a revert)."""
        return next(s for s in self.shards if s.activities[0].name == activity and s.activities[0].reverting)

    def workflow_plans(self) -> dict[str, FlowPlan]:
        """This plan and its shard plans by workflow type name: what a decision task's
        `workflowType.name` selects."""
        return {self.workflow: self, **{s.workflow: s for s in self.shards}}

    def worker_task_lists(self) -> tuple[str, ...]:
        """The task lists of the Python activities, in plan order: what the generated worker polls.

        A list that only external activities use is never among them: the worker would take
        their tasks and fail them, having no handler for them."""
        return tuple(dict.fromkeys(a.task_list for a in self.activities if not a.external))

    def by_type(self, type_name: str) -> tuple[ActivityPlan, bool] | None:
        """The activity whose type (or whose revert's type, then True) `type_name` is, or None."""
        return self._by_type.get(type_name)

    def to_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "domain": self.domain,
            "domain_retention_days": self.domain_retention_days,
            "workflow": self.workflow,
            "version": self.version,
            "description": self.description,
            "task_list": self.task_list,
            "execution_timeout": self.execution_timeout,
            "decision_timeout": self.decision_timeout,
            "child_policy": self.child_policy,
            "tags": list(self.tags),
            "input": [[k, t.to_data()] for k, t in self.input],
            "result": [[k, s.to_data()] for k, s in self.result],
            "result_types": [[k, t.to_data()] for k, t in self.result_types],
            "activities": [a.to_data() for a in self.activities],
            "aws_partition": self.aws_partition,
            **({"shards": [s.to_data() for s in self.shards]} if self.shards else {}),
        }
        # Left out when there is none, so that a package without payloads reads as before.
        if self.payloads is not None:
            data["payloads"] = self.payloads.to_data()
        # Left out when the default, so that existing packages' plans stay the same bytes.
        if self.on_cancel != "revert":
            data["on_cancel"] = self.on_cancel
        return data

    @staticmethod
    def from_data(data: dict[str, Any]) -> FlowPlan:
        return FlowPlan(
            domain=data["domain"],
            domain_retention_days=data["domain_retention_days"],
            workflow=data["workflow"],
            version=data["version"],
            description=data["description"],
            task_list=data["task_list"],
            execution_timeout=data["execution_timeout"],
            decision_timeout=data["decision_timeout"],
            child_policy=data["child_policy"],
            tags=tuple(data["tags"]),
            input=tuple((k, TypeRef.from_data(t)) for k, t in data["input"]),
            result=tuple((k, Source.from_data(s)) for k, s in data["result"]),
            result_types=tuple((k, TypeRef.from_data(t)) for k, t in data["result_types"]),
            activities=tuple(ActivityPlan.from_data(a) for a in data["activities"]),
            aws_partition=data["aws_partition"],
            shards=tuple(FlowPlan.from_data(s) for s in data.get("shards", ())),
            payloads=PayloadsPlan.from_data(data["payloads"]) if data.get("payloads") else None,
            on_cancel=data.get("on_cancel", "revert"),
        )
