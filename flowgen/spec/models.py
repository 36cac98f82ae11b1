"""Stage 2, the spec's structure: pydantic v2 models for every key of SPEC.md.

The models accept every shorthand of the language (`retry: 3`, durations as
integers or strings, references as strings, literals as `{value: ...}`) and
hold the parsed forms (seconds, `Reference`, `TypeRef`). Rules that need more
than one value at a time (the graph, references, the history budget) live in
`flowgen.check`. The JSON Schema in schemas/ is generated from these models,
so each field's description is what editors show on hover.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    WithJsonSchema,
)

from flowgen.runtime.limits import MAX_DESCRIPTION, MAX_OPEN_ACTIVITIES, MAX_TAG, MAX_TAGS, MAX_VERSION
from flowgen.runtime.payloads import DEFAULT_THRESHOLD, s3_location_problem
from flowgen.runtime.plan import TypeRef
from flowgen.spec.durations import NO_LIMIT, parse_duration
from flowgen.spec.names import (
    RESERVED_ACTIVITY_NAMES,
    RESERVED_INPUT_NAMES,
    handler_problem,
    identifier_problem,
    swf_name_problem,
)
from flowgen.spec.references import Reference, parse_reference
from flowgen.spec.types import parse_type

SPEC_VERSION = 1
JAVA_INT = (-(2**31), 2**31 - 1)


def _check(problem: str | None) -> None:
    if problem is not None:
        raise ValueError(problem)


# -- scalar kinds ---------------------------------------------------------------


def _swf_name(what: str) -> Any:
    def check(value: str) -> str:
        _check(swf_name_problem(value, what))
        return value

    return AfterValidator(check)


def _identifier(what: str, reserved: tuple[str, ...] = ()) -> Any:
    def check(value: str) -> str:
        _check(identifier_problem(value, what))
        if value in reserved:
            raise ValueError(f'{what} "{value}" is reserved; choose another name')
        return value

    return AfterValidator(check)


def _version(value: str) -> str:
    _check(swf_name_problem(value, "version", MAX_VERSION))
    return value


def _handler(value: str) -> str:
    _check(handler_problem(value))
    return value


def _type(value: Any) -> TypeRef:
    if isinstance(value, TypeRef):
        return value
    if not isinstance(value, str):
        raise ValueError(f"a type is written as a string such as str or list[date]; found {_kind(value)}")
    return parse_type(value)


def _reference(value: Any) -> Reference:
    if isinstance(value, Reference):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected a reference string or {{value: ...}}; found {_kind(value)}")
    return parse_reference(value)


def _kind(value: object) -> str:
    from flowgen.diagnostics import kind_of

    return kind_of(value)


def _found(value: object) -> str:
    """`a boolean true`, `a string "3"`, `null`: what was found, for messages."""
    from flowgen.diagnostics import show

    return "null" if value is None else f"{_kind(value)} {show(value)}"


def _duration(allow_none: bool) -> Any:
    def parse(value: Any) -> Any:
        return parse_duration(value, allow_none)

    return BeforeValidator(parse)


_DURATION_TEXT = {"type": "string", "pattern": "^[0-9]+[smhd]$"}
_DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer", "minimum": 0}, _DURATION_TEXT],
}
_TIMEOUT_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "integer", "minimum": 0}, _DURATION_TEXT, {"const": NO_LIMIT}],
}

SwfName = Annotated[str, _swf_name("name")]
TaskList = Annotated[str, _swf_name("task list")]
TypeName = Annotated[str, _swf_name("activity type name")]
Version = Annotated[str, AfterValidator(_version)]
Handler = Annotated[
    str,
    AfterValidator(_handler),
    WithJsonSchema({"type": "string", "pattern": r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$"}),
]
ActivityName = Annotated[str, _identifier("activity name", RESERVED_ACTIVITY_NAMES)]
AxisName = Annotated[str, _identifier("axis name")]
FieldName = Annotated[str, _identifier("field name")]
InputName = Annotated[str, _identifier("input name", RESERVED_INPUT_NAMES)]
ErrorName = Annotated[str, _identifier("error name")]
TypeText = Annotated[
    TypeRef,
    BeforeValidator(_type),
    WithJsonSchema(
        {
            "type": "string",
            "description": "str, int, float, bool, date, datetime, any, list[T], dict[str, T] or T | None",
            "examples": ["str", "list[date]", "dict[str, int]", "int | None"],
        }
    ),
]
ReferenceText = Annotated[
    Reference,
    BeforeValidator(_reference),
    WithJsonSchema(
        {
            "type": "string",
            "description": "input.FIELD, generator.AXIS, ACTIVITY, ACTIVITY.FIELD, ACTIVITY[*] or ACTIVITY[*].FIELD",
            "pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\[\*\])?(\.[A-Za-z_][A-Za-z0-9_]*)?$",
        }
    ),
]
Duration = Annotated[int, _duration(False), WithJsonSchema(_DURATION_SCHEMA)]
Timeout = Annotated[int | Literal["none"], _duration(True), WithJsonSchema(_TIMEOUT_SCHEMA)]
Description = Annotated[str, Field(max_length=MAX_DESCRIPTION)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


# -- values in inputs, results and generators -------------------------------------


class LiteralValue(_Model):
    """A literal: `{value: ...}` stands for itself instead of referring to something."""

    value: Any = Field(description="Any JSON value, passed as it is.")


def _source_tag(value: Any) -> str | None:
    if isinstance(value, (str, Reference)):
        return "<reference>"
    if isinstance(value, (dict, LiteralValue)):
        return "<literal>"
    return None


Source = Annotated[
    Annotated[ReferenceText, Tag("<reference>")] | Annotated[LiteralValue, Tag("<literal>")],
    Discriminator(
        _source_tag,
        custom_error_type="source",
        custom_error_message="expected a reference such as input.FIELD or ACTIVITY.FIELD, or a literal {value: ...}",
    ),
]


class ItemsSource(_Model):
    """One instance per literal element."""

    items: list[Any] = Field(description="The literal elements, one instance each, in order.")


class RangeSource(_Model):
    """Python's `range(START, STOP[, STEP])`."""

    range: Annotated[list[int], Field(min_length=2, max_length=3)] = Field(
        description="[START, STOP] or [START, STOP, STEP], integers, as Python's range."
    )


DateOrReference = Annotated[
    str,
    Field(description="An ISO date (2024-01-31) or a reference to a date, such as input.start."),
]


class DateRangeBounds(_Model):
    """Both ends of a date range, included."""

    start: DateOrReference
    end: DateOrReference


class DateRangeSource(_Model):
    """One instance per day from `start` to `end`, both included."""

    date_range: DateRangeBounds = Field(
        description="{start: DATE_OR_REF, end: DATE_OR_REF}, both ends included."
    )


def _generator_tag(value: Any) -> str | None:
    if isinstance(value, (str, Reference)):
        return "<reference>"
    if isinstance(value, dict) and len(value) == 1:
        key = next(iter(value))
        if key in ("items", "range", "date_range"):
            return f"<{key}>"
    if isinstance(value, ItemsSource):
        return "<items>"
    if isinstance(value, RangeSource):
        return "<range>"
    if isinstance(value, DateRangeSource):
        return "<date_range>"
    return None


GeneratorSource = Annotated[
    Annotated[ReferenceText, Tag("<reference>")]
    | Annotated[ItemsSource, Tag("<items>")]
    | Annotated[RangeSource, Tag("<range>")]
    | Annotated[DateRangeSource, Tag("<date_range>")],
    Discriminator(
        _generator_tag,
        custom_error_type="generator_source",
        custom_error_message=(
            "expected a generator source: a reference to a list, {items: [...]}, "
            "{range: [START, STOP, STEP]} or {date_range: {start: ..., end: ...}}"
        ),
    ),
]


# -- retries and timeouts ---------------------------------------------------------


class Retry(_Model):
    """How an instance is retried after a failure, a time-out or a failed scheduling."""

    max_retries: Annotated[int, Field(ge=0)] = Field(
        0, description="Retries after the first attempt: 3 means four attempts in all."
    )
    interval: Duration = Field(0, description="Wait before the first retry; above 0 it is an SWF timer.")
    backoff_rate: Annotated[float, Field(ge=1.0, le=100.0)] = Field(
        2.0, description="Multiplier of the wait for each further retry; at least 1.0."
    )
    max_interval: Duration | None = Field(
        None, description="Cap on the wait between attempts; no cap when left out."
    )
    jitter: Literal["none", "full"] = Field(
        "none",
        description="none, or full: a wait drawn between 0 and the computed wait, from the activity id and attempt so replays agree.",
    )
    errors: Annotated[list[ErrorName], Field(min_length=1)] | None = Field(
        None,
        description=(
            "Error names to retry (a handler's exception class name, or a time-out type such as "
            "START_TO_CLOSE or HEARTBEAT); any other error is final. Every error when left out."
        ),
    )


def _retry_shorthand(value: Any) -> Any:
    if type(value) is int:
        return {"max_retries": value}
    if not isinstance(value, (dict, Retry)):
        raise ValueError(
            "expected a number of retries (3) or a mapping such as {max_retries: 3, interval: 10s}; "
            f"found {_found(value)}"
        )
    return value


RetryPolicy = Annotated[
    Retry,
    BeforeValidator(
        _retry_shorthand,
        json_schema_input_type=Union[
            Annotated[int, Field(ge=0, description="Retries after the first attempt.")], Retry
        ],
    ),
]


class Timeouts(_Model):
    """SWF's four activity time-outs, with SWF's meanings."""

    schedule_to_start: Timeout | None = Field(
        None, description="Longest wait in the task list before a worker starts the task, or none."
    )
    start_to_close: Timeout | None = Field(
        None, description="Longest run of one attempt once started, or none."
    )
    schedule_to_close: Timeout | None = Field(
        None,
        description="Longest time from scheduling to closing, or none; default schedule_to_start + start_to_close.",
    )
    heartbeat: Timeout | None = Field(
        None, description="Longest silence between heartbeats, or none; must be below start_to_close."
    )


# -- activities and the workflow --------------------------------------------------

Priority = Annotated[int, Field(ge=JAVA_INT[0], le=JAVA_INT[1])]


class Defaults(_Model):
    """Activity fields inherited by every activity unless it sets its own."""

    task_list: TaskList | None = Field(
        None,
        description="Default task list of the Python activities (not of external ones); default WORKFLOW-vVERSION-activities.",
    )
    timeouts: Timeouts | None = Field(
        None, description="Default time-outs, merged key by key into each activity's."
    )
    retry: RetryPolicy | None = Field(
        None, description="Default retry policy; an activity's retry replaces it whole."
    )
    priority: Priority | None = Field(None, description="Default SWF task priority (higher runs first).")
    version: Version | None = Field(
        None, description="Default activity type version; else the workflow version."
    )


class Activity(_Model):
    """One activity: a handler SWF schedules, once or once per generator combination."""

    handler: Handler | None = Field(
        None, description="package.module:function that implements it; required unless external."
    )
    external: bool = Field(
        False,
        description="Implemented outside this package (any language): registered and scheduled, no worker code.",
    )
    description: Description | None = Field(
        None, description="What it does; registered with the activity type."
    )
    version: Version | None = Field(
        None, description="Activity type version; default defaults.version, else the workflow version."
    )
    type_name: TypeName | None = Field(
        None,
        description=(
            "SWF activity type name; default WORKFLOW.ACTIVITY. Set it for a type that already exists "
            "or that another language's worker registers; a revert's type adds .revert."
        ),
    )
    requires: list[str] = Field(default_factory=list, description="Activities that must complete first.")
    generators: dict[AxisName, GeneratorSource] = Field(
        default_factory=dict,
        description="Axis name -> source; one instance per combination (cartesian product, in axis order).",
    )
    max_items: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Upper bound on instances; required when a generator is known only at run time."
    )
    max_concurrency: Annotated[int, Field(ge=0, le=MAX_OPEN_ACTIVITIES)] = Field(
        0, description="Instances open at once; 0 means no limit but SWF's 1,000 open activities."
    )
    shard_size: Annotated[int, Field(ge=1)] | None = Field(
        None,
        description="Run the instances in child workflow executions of at most this many each. "
        "Default: sharded only when the worst case would not fit the workflow's history, "
        "with the most instances whose worst case stays within 10,000 events per child.",
    )
    inputs: dict[InputName, Source] = Field(
        default_factory=dict, description="Handler parameter -> reference or {value: LITERAL}."
    )
    outputs: dict[FieldName, TypeText] = Field(
        default_factory=dict, description="Field -> type of what the handler returns."
    )
    task_list: TaskList | None = Field(
        None,
        description="Task list it is scheduled on; default defaults.task_list, else WORKFLOW-vVERSION-activities; for an external activity WORKFLOW-vVERSION-external.",
    )
    priority: Priority | None = Field(None, description="SWF task priority (higher runs first).")
    timeouts: Timeouts | None = Field(
        None, description="Time-outs, merged key by key over defaults.timeouts."
    )
    retry: RetryPolicy | None = Field(None, description="Retry policy: a number of retries or an object.")
    on_failure: Literal["fail_workflow", "continue"] = Field(
        "fail_workflow",
        description="When an instance is out of retries: fail the workflow (after reverts), or continue with None as its output.",
    )
    revert: Handler | None = Field(
        None, description="package.module:function that undoes this activity when the workflow fails."
    )


class Workflow(_Model):
    """The SWF workflow type."""

    name: SwfName = Field(description="Workflow type name.")
    version: Version = Field(description='Workflow type version, a string such as "1.0".')
    description: Description | None = Field(
        None, description="What the workflow does; registered with its type."
    )
    task_list: TaskList | None = Field(
        None, description="Decider task list; default WORKFLOW-vVERSION, so that versions never share one."
    )
    execution_timeout: Duration = Field(description="Longest run of one execution; 1s to 365d, never none.")
    decision_timeout: Timeout = Field(
        30, description="Longest a decider may take on one decision task; default 30s."
    )
    child_policy: Literal["TERMINATE", "REQUEST_CANCEL", "ABANDON"] = Field(
        "TERMINATE", description="What happens to child executions when this one closes."
    )
    on_cancel: Literal["revert", "none"] = Field(
        "revert",
        description=(
            "When cancellation is requested: revert (the default) cancels open tasks, runs the reverts "
            "of what completed, newest first, then closes as CANCELED; none closes as CANCELED at once."
        ),
    )
    input: dict[FieldName, TypeText] = Field(
        default_factory=dict,
        description="Workflow input field -> type; checked before anything is scheduled.",
    )
    result: dict[FieldName, Source] = Field(
        default_factory=dict, description="Workflow result field -> reference or {value: LITERAL}."
    )
    tags: Annotated[list[Annotated[str, Field(max_length=MAX_TAG)]], Field(max_length=MAX_TAGS)] = Field(
        default_factory=list, description="At most 5 tags given to every execution."
    )


def _s3_location(value: str) -> str:
    _check(s3_location_problem(value))
    return value


class Payloads(_Model):
    """Where values too large for SWF are kept: any workflow input, activity input or result, or
    workflow result whose JSON is over `threshold` characters goes to S3, and SWF carries a small
    reference to it (docs/spec-language.md, "Payloads")."""

    s3: Annotated[
        str,
        AfterValidator(_s3_location),
        WithJsonSchema({"type": "string", "pattern": r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$"}),
    ] = Field(
        description=(
            "s3://BUCKET or s3://BUCKET/PREFIX: the bucket, and the folder in it, that hold the values; "
            "the IAM policies grant s3:GetObject and s3:PutObject on exactly BUCKET/PREFIX/*."
        )
    )
    threshold: Annotated[int, Field(ge=1, le=DEFAULT_THRESHOLD)] = Field(
        DEFAULT_THRESHOLD,
        description=(
            f"JSON characters above which a value is kept in S3; default {DEFAULT_THRESHOLD:,}, just "
            "under SWF's 32,768, which is also the largest allowed."
        ),
    )


def _spec_version(value: Any) -> Any:
    # `true == 1` in Python, so Literal[1] alone would take `flowgen: true`.
    if type(value) is int and value != SPEC_VERSION:
        raise ValueError(f"spec language version {value} is not supported: this flowgen reads version 1")
    if type(value) is not int:
        raise ValueError(f"expected the spec language version, the integer 1; found {_found(value)}")
    return value


class Spec(_Model):
    """A flowgen spec: one Amazon SWF workflow, its activities and their dependencies."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        title="flowgen spec",
        json_schema_extra={"$id": "https://flowgen.dev/schemas/flowgen.schema.json"},
    )

    schema_: str | None = Field(
        None, alias="$schema", description="Ignored; lets editors find the JSON Schema."
    )
    flowgen: Annotated[Literal[1], BeforeValidator(_spec_version)] = Field(
        description="Spec language version: 1."
    )
    domain: SwfName = Field(description="SWF domain name.")
    domain_retention: Duration = Field(
        30 * 86400,
        description="History retention when registering the domain, in whole days; default 30d, at most 90d.",
    )
    aws_partition: Literal["aws", "aws-cn", "aws-us-gov"] = Field(
        "aws",
        description=(
            "The AWS partition of the ARNs in the generated IAM policies: aws, aws-cn (China) or "
            "aws-us-gov (GovCloud); default aws."
        ),
    )
    payloads: Payloads | None = Field(
        None,
        description=(
            "Keep values too large for SWF (over 32,768 characters) in S3: {s3: s3://BUCKET/PREFIX}. "
            "Without it, such a value fails the workflow or its activity."
        ),
    )
    workflow: Workflow = Field(description="The workflow type.")
    defaults: Defaults = Field(default_factory=Defaults, description="Fields every activity inherits.")
    activities: Annotated[dict[ActivityName, Activity], Field(min_length=1)] = Field(
        description="Activity name -> activity; order is kept."
    )
