"""The JSON Schema of the spec language, generated from the pydantic models."""

from __future__ import annotations

import json
from typing import Any

from flowgen.spec.models import Spec

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def json_schema() -> dict[str, Any]:
    schema = Spec.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": SCHEMA_DIALECT, **schema}


def schema_text() -> str:
    """The committed form: stable key order, two-space indent, final newline."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
