"""The one sentence a model gets when its arguments do not fit a tool's input schema.

The SDK reports pydantic's multi-line validation dump: an internal model name (`get_taskArguments`),
the rejected value quoted back (up to ~50 characters of whatever the model sent, prompt-injected text
included), and a link to pydantic's documentation. None of that helps the model fix its call, and the
quoted value is untrusted text handed straight back to it. Here each problem becomes a short clause
built only from the schema (the argument's name and what it accepts), never from the rejected value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from tasklens.tools.errors import clean_upstream_text

MAX_PROBLEMS = 3
_EXPECTED = {
    "string_type": "must be a string",
    "int_type": "must be a whole number",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "missing": "is required",
    "extra_forbidden": "is not an argument of this tool",
}


def argument_error(tool: str, error: ValidationError, input_schema: Mapping[str, Any]) -> str:
    """`error` as one sentence naming each bad argument and what it accepts (at most three of them)."""
    known = set(input_schema.get("properties", {}))
    problems: dict[str, str] = {}
    for item in error.errors(include_url=False, include_input=False):
        name = _argument_name(item.get("loc", ()), known)
        if name not in problems:
            problems[name] = _problem(item)
    clauses = [f"{name} {problem}" for name, problem in problems.items()]
    more = f" (and {len(clauses) - MAX_PROBLEMS} more)" if len(clauses) > MAX_PROBLEMS else ""
    return (
        f"Error executing tool {tool}: invalid arguments: {'; '.join(clauses[:MAX_PROBLEMS])}{more}. "
        "Call it again with arguments that match its input schema."
    )


def _argument_name(loc: tuple[Any, ...], known: set[str]) -> str:
    """The top-level argument at fault. An unknown name came from the caller, so it is cleaned and cut."""
    if not loc:
        return "arguments"
    head = str(loc[0])
    return head if head in known else repr(clean_upstream_text(head, limit=40))


def _problem(item: Mapping[str, Any]) -> str:
    kind = str(item.get("type", ""))
    if kind in _EXPECTED:
        return _EXPECTED[kind]
    context = item.get("ctx") or {}
    if kind in ("literal_error", "enum") and "expected" in context:
        return f"must be one of {context['expected']}"  # the schema's own values, not the caller's
    # Other pydantic messages are templates over the schema's limits ("should have at most 128
    # characters"); a custom validator's text is ours, but is still cleaned and capped to be safe.
    message = clean_upstream_text(str(item.get("msg", "is not valid")), limit=100)
    return message[:1].lower() + message[1:]
