"""The base model every tool result is built from: clean text only, and empty values never reach the wire.

Agents pay for every token a tool returns, and a `null` or `[]` says nothing they can act on. So a
`Compact` model serializes without `None`, empty lists and empty dicts, and its published JSON schema
says the same thing: an optional field is simply an optional property (no `anyOf [..., null]`, no
`title`), which is both truthful and a fraction of the schema tokens.

Every string a result holds — values, and keys of dicts such as objects per class — passes through
`clean_upstream_text` on the way in, because most of them came from a provider (stage names, statuses,
assignees, labels) and are headed for a language model: no control or bidi characters, one line, and a
ceiling on length. Provider modules cut fields shorter where that reads better.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_serializer,
)
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema

from ..errors import clean_upstream_text

TEXT_CEILING = 500  # characters of any one string in a result


def _is_empty(value: Any) -> bool:
    return value is None or (isinstance(value, (list, dict)) and not value)


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_upstream_text(value, limit=TEXT_CEILING)
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def simplify_schema_property(prop: dict[str, Any]) -> None:
    """Drop a property's generated `title` and collapse `anyOf [X, null]` with default null into X."""
    prop.pop("title", None)
    any_of = prop.get("anyOf")
    if isinstance(any_of, list) and prop.get("default", "missing") is None:
        non_null = [branch for branch in any_of if branch != {"type": "null"}]
        if len(non_null) == 1:
            del prop["anyOf"]
            prop.pop("default")
            prop.update(non_null[0])
    if "default" in prop and prop["default"] in (None, [], {}):
        prop.pop("default")


def published_as(kind: str, description: str) -> WithJsonSchema:
    """Publish a nested field as one described `object`/`array` instead of its full sub-schema.

    `tools/list` is paid for on every turn of every conversation, while a nested row's keys are
    self-explanatory once seen in a result; one sentence naming them costs a fraction of a schema.
    Runtime validation still uses the field's real type."""
    schema: dict[str, Any] = {"type": kind, "description": description}
    if kind == "array":
        schema["items"] = {"type": "object"}
    return WithJsonSchema(schema)


class Compact(BaseModel):
    """A result model whose empty fields are dropped on output and omitted from its schema."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _clean_text(cls, value: Any) -> Any:
        return _clean(value)

    @model_serializer(mode="wrap")
    def _drop_empty(self, handler: SerializerFunctionWrapHandler) -> Any:
        return {key: value for key, value in handler(self).items() if not _is_empty(value)}

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        reference = handler(core_schema)
        schema = handler.resolve_ref_schema(reference)
        schema.pop("title", None)
        schema.pop("additionalProperties", None)
        for prop in schema.get("properties", {}).values():
            simplify_schema_property(prop)
        return reference


def compact_json(model: BaseModel) -> str:
    """The model as one line of JSON, empties dropped: what both the text block and the structure carry."""
    return json.dumps(model.model_dump(mode="json"), separators=(",", ":"), ensure_ascii=False)
