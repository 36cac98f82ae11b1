"""A lean parse of SWF's history pages: what botocore's parser makes of them, several times faster.

botocore turns a response into Python by walking the operation's output shape, a method call per
value; on a history that costs about 14 times `json.loads` (docs/benchmarks.md). For the two
operations that carry history pages (PollForDecisionTask, GetWorkflowExecutionHistory) this
module parses the body with `json.loads` and then does only what botocore's JSON parser changes:
timestamps become datetimes. Everything else botocore keeps as JSON gives it.

The converters are compiled from botocore's own model of the operation when they are installed,
so a botocore that adds fields parses them too. They check what botocore would treat differently
(a key the model does not know, a null, a value of another JSON type where a structure or list is
expected, a timestamp that is not a plain number) and give up on the page, which botocore then
parses as always: the lean parse yields botocore's values or nothing.

It hooks botocore's `before-parse` event, which lets a handler hand over parsed fields in
`customized_response_dict` (merged into botocore's result): the request, signing, retries and error
parsing stay botocore's. The handler parses only successful responses, then gives botocore an
empty body to parse. A botocore without the event, or a model this module does not understand (a
renamed JSON key, a blob, a document), leaves botocore's own parse in place.
"""

from __future__ import annotations

import datetime
import json
import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

OPERATIONS = ("PollForDecisionTask", "GetWorkflowExecutionHistory")
_HANDLER_ID = "flowgen-lean-history-parse"

Convert = Callable[[Any, "_Context"], Any]


class Unexpected(Exception):
    """The page holds something botocore would treat differently: botocore parses it."""


class Unsupported(Exception):
    """The model holds a shape this module does not convert; the lean parse is not installed."""


class _Context:
    """One page's time zone, made as botocore makes it (`get_tzinfo_options`), once per page."""

    def __init__(self, parse_timestamp: Callable[[Any], datetime.datetime], zone: datetime.tzinfo) -> None:
        self.parse_timestamp = parse_timestamp
        self.zone = zone


def _timestamp(value: Any, context: _Context) -> datetime.datetime:
    kind = type(value)
    if kind is int or kind is float:
        try:
            return datetime.datetime.fromtimestamp(value, context.zone)
        except (OSError, OverflowError, ValueError):
            pass
    # Strings, booleans and times beyond the platform's range: botocore's own function.
    return context.parse_timestamp(value)


def _structure(members: dict[str, Convert | None]) -> Convert:
    names = frozenset(members)
    nested = tuple((name, convert) for name, convert in members.items() if convert is not None)

    def convert(value: Any, context: _Context) -> Any:
        if type(value) is not dict or not value.keys() <= names or None in value.values():
            raise Unexpected
        for name, inner in nested:
            found = value.get(name)
            if found is not None:
                value[name] = inner(found, context)
        return value

    return convert


def _list(inner: Convert | None) -> Convert:
    def convert(value: Any, context: _Context) -> Any:
        if type(value) is not list or None in value:
            raise Unexpected
        if inner is not None:
            value[:] = [inner(item, context) for item in value]
        return value

    return convert


def _map(inner: Convert | None) -> Convert:
    def convert(value: Any, context: _Context) -> Any:
        if type(value) is not dict or None in value.values():
            raise Unexpected
        if inner is not None:
            for key, item in value.items():
                value[key] = inner(item, context)
        return value

    return convert


# Types botocore's JSON parser returns as json.loads gives them.
_AS_IS = frozenset({"string", "integer", "long", "boolean", "float", "double", "character", "byte", "short"})


def compile_shape(shape: Any, seen: dict[str, Convert | None] | None = None) -> Convert | None:
    """The converter for a botocore shape; None when botocore keeps such a value as it is."""
    seen = {} if seen is None else seen
    kind = shape.type_name
    if kind in _AS_IS:
        return None
    if kind == "timestamp":
        return _timestamp
    if kind == "structure":
        if shape.is_document_type or getattr(shape, "is_tagged_union", False) or shape.event_stream_name:
            raise Unsupported(shape.name)
        if shape.name in seen:  # a recursive shape: not in SWF's model
            raise Unsupported(shape.name)
        seen[shape.name] = None
        members: dict[str, Convert | None] = {}
        for name, member in shape.members.items():
            if member.serialization.get("name", name) != name:
                raise Unsupported(f"{shape.name}.{name}")
            members[name] = compile_shape(member, seen)
        del seen[shape.name]
        return _structure(members)
    if kind == "list":
        return _list(compile_shape(shape.member, seen))
    if kind == "map":
        if compile_shape(shape.key, seen) is not None:
            raise Unsupported(shape.name)
        return _map(compile_shape(shape.value, seen))
    raise Unsupported(f"{shape.name} ({kind})")


class LeanParser:
    """Parses one operation's successful response bodies as botocore would, or raises Unexpected."""

    def __init__(self, output_shape: Any) -> None:
        from botocore import parsers, utils
        from botocore.compat import get_tzinfo_options

        if parsers.DEFAULT_TIMESTAMP_PARSER is not utils.parse_timestamp:
            raise Unsupported("botocore's timestamp parser is not parse_timestamp")
        self.convert = compile_shape(output_shape)
        if self.convert is None:
            raise Unsupported(output_shape.name)
        self.parse_timestamp: Callable[[Any], datetime.datetime] = utils.parse_timestamp
        self.zones: Callable[[], tuple[Callable[[], datetime.tzinfo], ...]] = get_tzinfo_options

    def parse(self, body: bytes) -> dict[str, Any]:
        if not body:
            raise Unexpected  # botocore makes {} of it; nothing to gain
        try:
            value = json.loads(body.decode("utf-8"))  # as botocore decodes it
        except ValueError:
            raise Unexpected from None
        context = _Context(self.parse_timestamp, self.zones()[0]())
        parsed = self.convert(value, context)  # type: ignore[misc]
        return parsed  # type: ignore[no-any-return]


def install(client: Any) -> bool:
    """Parse `client`'s history pages leanly from now on; whether it could (idempotent).

    `client` is a botocore SWF client; anything else (a test's fake) is left alone.
    """
    meta = getattr(client, "meta", None)
    events = getattr(meta, "events", None)
    model = getattr(meta, "service_model", None)
    if events is None or model is None or getattr(model, "service_name", "") != "swf":
        return False
    try:
        parsers = {name: LeanParser(model.operation_model(name).output_shape) for name in OPERATIONS}
    except Exception as error:  # an unknown model or botocore: botocore's own parse stays
        log.info("history pages are parsed by botocore: %s", error)
        return False
    service_id = model.service_id.hyphenize()
    for name, parser in parsers.items():
        events.register(
            f"before-parse.{service_id}.{name}", _handler(parser), unique_id=f"{_HANDLER_ID}-{name}"
        )
    return True


def _handler(parser: LeanParser) -> Callable[..., None]:
    def before_parse(
        response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
    ) -> None:
        if response_dict.get("status_code") != 200:
            return  # errors are botocore's to parse
        body = response_dict.get("body")
        if not isinstance(body, bytes):
            return
        try:
            parsed = parser.parse(body)
        except Unexpected:
            return
        customized_response_dict.update(parsed)
        response_dict["body"] = b"{}"

    return before_parse
