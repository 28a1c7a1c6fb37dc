"""What agents see in `tools/list`: the SDK's schemas, tidied so every token carries meaning.

The SDK publishes each argument with a generated `title` ("Task Id") and each optional argument as
`anyOf [type, null]`. Neither helps a model choose arguments, and together they were a third of the
listing. Validation is unaffected: it still runs on the SDK's own argument model.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any


def tidy_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop generated titles and collapse optional `anyOf [X, null]` (default null) into X, in place."""
    schema.pop("title", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
        branches = prop.get("anyOf")
        if isinstance(branches, list) and "default" in prop and prop["default"] is None:
            non_null = [branch for branch in branches if branch != {"type": "null"}]
            if len(non_null) == 1:
                del prop["anyOf"], prop["default"]
                prop.update(non_null[0])
    return schema


def tool_description(fn: Callable[..., Any]) -> str:
    """The function's docstring without its source indentation (the SDK publishes it verbatim)."""
    return inspect.cleandoc(fn.__doc__ or "")
