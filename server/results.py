"""How a tool's answer goes on the wire: the domain function's model or `ProviderError`, as MCP results.

Clients disagree on what they show the model: Claude Code reads `structuredContent` only, others read
only the text block. Both carry the same compact JSON (no nulls, no indentation), so every client sees
every fact and none pays for pretty-printing. Failures go out as `ToolError`, whose text the SDK marks
`isError`: some clients drop structured content on errors, so the sentence must stand alone.

The tool entry functions under `tasklens.tools` return result models and raise `ProviderError`; they
never build protocol objects. `as_mcp_tool` wraps one for registration: the SDK reads the wrapper's
signature (the entry function's, with the result model published as the output schema) and gets a
`CallToolResult` back.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from tasklens.tools.errors import ProviderError, clean_upstream_text
from tasklens.tools.results.compact import compact_json

ERROR_TEXT_LIMIT = 560  # characters; with the SDK's "Error executing tool <name>: " prefix, under 600


def tool_result(model: BaseModel) -> CallToolResult:
    """`model` as a successful tool result: compact JSON text plus the same data as structured content."""
    return CallToolResult(
        content=[TextContent(type="text", text=compact_json(model))],
        structured_content=model.model_dump(mode="json"),
    )


def tool_error(error: ProviderError) -> ToolError:
    """A provider failure as the one trusted sentence the model sees.

    Its upstream quote is already clean; the whole sentence is cleaned and capped once more, so no hint
    a provider module composes (with an id or a stage name in it) can add a line break or run long.
    """
    return ToolError(clean_upstream_text(error.for_model(), limit=ERROR_TEXT_LIMIT))


def as_mcp_tool(fn: Callable[..., Awaitable[BaseModel]]) -> Callable[..., Awaitable[CallToolResult]]:
    """`fn` as the SDK registers it: same arguments, its model as the output schema, MCP results out."""
    signature = inspect.signature(fn, eval_str=True)
    model = signature.return_annotation
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"{fn.__name__} must be annotated to return a result model")

    @functools.wraps(fn)
    async def call(*args: Any, **kwargs: Any) -> CallToolResult:
        try:
            result = await fn(*args, **kwargs)
        except ProviderError as error:
            raise tool_error(error) from None
        return tool_result(result)

    call.__signature__ = signature.replace(  # type: ignore[attr-defined]  # read by inspect.signature
        return_annotation=Annotated[CallToolResult, model]
    )
    return call
