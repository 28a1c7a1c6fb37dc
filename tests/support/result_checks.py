"""What every tool result must look like, whatever the arguments and whatever upstream did."""

from __future__ import annotations

import json
import re
from typing import Any

from mcp.types import CallToolResult

from support.mcp_harness import text_of
from tasklens.tools.results.task import TERMINAL_STATES

ERROR_CAP = 600  # characters of an isError text: one sentence, plus at most a cleaned upstream quote
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]")


def check_result(tool: str, arguments: dict[str, Any], result: CallToolResult) -> None:
    """A result is compact JSON mirrored in text and structure, or one short clean error sentence that
    is not the SDK's text for a crash and does not quote a long argument back."""
    assert isinstance(result, CallToolResult)
    text = text_of(result)
    assert "Traceback" not in text and 'File "' not in text, text[:300]
    if not result.is_error:
        assert result.structured_content is not None and json.loads(text) == result.structured_content
        if tool == "poll_task":
            poll_rows(result.structured_content)
        return
    assert len(text) <= ERROR_CAP, text[:300]
    assert not CONTROL.search(text) and "\n" not in text, repr(text[:300])
    assert text != f"Error executing tool {tool}", "the SDK's text for an unexpected exception: a crash"
    assert "<html" not in text.lower() and "<!doctype" not in text.lower(), text
    assert "validation error" not in text and "pydantic" not in text and "input_value" not in text, text
    for value in arguments.values():
        if isinstance(value, str) and len(value) > 60:
            assert value[:60] not in text, "an error must not quote a long argument back"


def poll_rows(content: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """A poll_task result as one dict per task id (its group's fields plus `id`), checking the grouping:
    every id in exactly one non-empty group, `terminal` and `changed` stated wherever a state is, and
    `terminal` true exactly for the terminal states."""
    rows: dict[str, dict[str, Any]] = {}
    for group in content["tasks"]:
        fields = {key: value for key, value in group.items() if key != "ids"}
        assert group["ids"], group
        if "state" in fields:
            assert fields["terminal"] is (fields["state"] in TERMINAL_STATES), group
            assert isinstance(fields["changed"], bool), group
        else:
            assert set(fields) == {"error"}, group  # never read: only why
        for task_id in group["ids"]:
            assert task_id not in rows, f"{task_id} is in two groups"
            rows[task_id] = {"id": task_id, **fields}
    return rows
