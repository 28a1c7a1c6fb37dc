"""What agents see in `tools/list`: the SDK's schemas, tidied so every token carries meaning.

The SDK publishes each argument with a generated `title` ("Task Id") and each optional argument as
`anyOf [type, null]`. Neither helps a model choose arguments, and together they make up a third of the
listing. Validation is unaffected: it still runs on the SDK's own argument model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from tasklens.tools.results.compact import simplify_schema_property


def tidy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop generated titles and collapse optional `anyOf [X, null]` (default null) into X, in place."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        simplify_schema_property(prop)
    return schema


def tool_description(fn: Callable[..., Any]) -> str:
    """The function's docstring without its source indentation (the SDK publishes it verbatim)."""
    return inspect.cleandoc(fn.__doc__ or "")
