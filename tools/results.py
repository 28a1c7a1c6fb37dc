"""How a tool result goes on the wire: one compact JSON, as text and as structured content.

Clients disagree on what they show the model: Claude Code reads `structuredContent` only, others read
only the text block. Both carry the same compact JSON (no nulls, no indentation), so every client sees
every fact and none pays for pretty-printing. Failures go out as `ToolError`, whose text the SDK marks
`isError`: some clients drop structured content on errors, so the sentence must stand alone.
"""

from __future__ import annotations

from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from .compact import compact_json
from .errors import ProviderError, clean_upstream_text

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
