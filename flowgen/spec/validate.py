"""Stage 2, validate: loaded data to a `Spec`, or diagnostics in the user's words."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from flowgen.diagnostics import Diagnostic, Path, kind_of, show
from flowgen.load import Document
from flowgen.spec import models
from flowgen.suggest import did_you_mean

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "string_type": "a string",
    "bool_type": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def validate(document: Document) -> tuple[models.Spec | None, list[Diagnostic]]:
    """Build the Spec, or return every structural problem."""
    try:
        return models.Spec.model_validate(document.data), []
    except ValidationError as error:
        found: dict[tuple[Path, str], Diagnostic] = {}
        for detail in error.errors(include_url=False):
            diagnostic = _diagnostic(document, detail)
            found.setdefault((diagnostic.path, diagnostic.message), diagnostic)
        return None, list(found.values())


def _diagnostic(document: Document, detail: ErrorDetails) -> Diagnostic:
    loc = tuple(detail["loc"])
    path, at_key = document.data_path(loc)
    kind = detail["type"]
    value = detail.get("input")
    if kind == "extra_forbidden":
        return Diagnostic(path, _unknown_key(path), at_key=True)
    if kind == "missing":
        parent, key = path[:-1], path[-1] if path else ""
        where = "the spec" if not parent else "this mapping"
        return Diagnostic(parent, f"{where} needs the key {show(key)}", at_key=False)
    return Diagnostic(path, _message(detail, value, document.texts.get(path)), at_key=at_key)


def _message(detail: ErrorDetails, value: Any, written: str | None = None) -> str:
    kind = detail["type"]
    context = detail.get("ctx") or {}
    if kind == "value_error":
        return str(context.get("error", detail["msg"]))
    if kind in _EXPECTED:
        expected = _EXPECTED[kind]
        hint = ""
        if kind == "string_type" and isinstance(value, (int, float)) and not isinstance(value, bool):
            text = written if written and len(written) <= 60 else value
            hint = f' (quote it: "{text}")'
        return f"expected {expected}, found {kind_of(value)} {show(value)}{hint}".replace(
            " null null", " null"
        )
    if kind == "literal_error":
        expected = re.sub(r"'([^']*)'", r'"\1"', str(context.get("expected", "one of the allowed values")))
        return f"expected {expected}, found {show(value)}"
    if kind in ("greater_than_equal", "greater_than"):
        bound = context.get("ge", context.get("gt"))
        return f"must be at least {bound}, found {show(value)}"
    if kind in ("less_than_equal", "less_than"):
        bound = context.get("le", context.get("lt"))
        return f"must be at most {bound}, found {show(value)}"
    if kind == "too_short":
        if context.get("min_length") == 1:
            return "cannot be empty"
        return f"needs at least {context.get('min_length')} item(s)"
    if kind == "too_long":
        if isinstance(value, str):
            return f"must be at most {context.get('max_length')} characters, found {len(value)}"
        return f"may have at most {context.get('max_length')} items, found {context.get('actual_length')}"
    if kind == "string_too_long":
        return f"must be at most {context.get('max_length')} characters, found {len(str(value))}"
    if kind in ("source", "generator_source"):
        hint = "; for literal elements write {items: [...]}" if isinstance(value, list) else ""
        return f"{detail['msg']}; found {kind_of(value)}{hint}"
    return str(detail["msg"])


def _unknown_key(path: Path) -> str:
    key = str(path[-1]) if path else ""
    model = _model_at(path[:-1])
    allowed = sorted(field.alias or name for name, field in model.model_fields.items()) if model else []
    hint = did_you_mean(key, allowed)
    if not hint and allowed:
        hint = "; allowed keys: " + ", ".join(allowed)
    return f"unknown key {show(key)}{hint}"


def _model_at(path: Path) -> type[BaseModel] | None:
    """The model that a mapping at `path` is, for suggesting its keys."""
    shape = tuple(
        "*" if index in (1, 3) and path[0] in ("activities",) else part for index, part in enumerate(path)
    )
    shape = tuple(
        "*" if (index == 2 and path[:2] == ("workflow", "result")) else part
        for index, part in enumerate(shape)
    )
    table: dict[tuple[object, ...], type[BaseModel]] = {
        (): models.Spec,
        ("workflow",): models.Workflow,
        ("workflow", "result", "*"): models.LiteralValue,
        ("defaults",): models.Defaults,
        ("defaults", "timeouts"): models.Timeouts,
        ("defaults", "retry"): models.Retry,
        ("activities", "*"): models.Activity,
        ("activities", "*", "timeouts"): models.Timeouts,
        ("activities", "*", "retry"): models.Retry,
        ("activities", "*", "inputs", "*"): models.LiteralValue,
        ("activities", "*", "generators", "*", "date_range"): models.DateRangeBounds,
    }
    return table.get(shape)
