"""Command-line flags for any MCP tool, read from the tool's own inputSchema.

`tasklens call` knows no tool by name: every `--name value` is matched against the properties of the
inputSchema that tools/list publishes, and coerced to the JSON type the schema declares (integer,
number, boolean, array, object, string). Anything that cannot be right — an unknown flag, a value of the
wrong type, a value outside an enum or a bound, a missing required argument — is a `UsageError` whose
message says what to type instead, before any call is made.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

TRUE_WORDS = ("true", "yes", "on", "1")
FALSE_WORDS = ("false", "no", "off", "0")


class UsageError(ValueError):
    """A command line that cannot be run; the message says what to type instead."""


def flag(name: str) -> str:
    """The flag of a schema property: `task_id` is `--task-id` (`--task_id` is accepted too)."""
    return "--" + name.replace("_", "-")


def resolved(prop: Mapping[str, Any]) -> dict[str, Any]:
    """A property with `anyOf`/`oneOf [X, null]` or `type: [X, "null"]` reduced to X (keeping its description)."""
    merged = dict(prop)
    for key in ("anyOf", "oneOf"):
        branches = [b for b in merged.pop(key, None) or [] if isinstance(b, Mapping) and b.get("type") != "null"]
        if branches:
            merged = {**branches[0], **merged}
    kind = merged.get("type")
    if isinstance(kind, list):
        merged["type"] = next((k for k in kind if k != "null"), "string")
    if "type" not in merged and merged.get("enum"):
        first = merged["enum"][0]
        merged["type"] = {bool: "boolean", int: "integer", float: "number"}.get(type(first), "string")
    merged.setdefault("type", "string")
    return merged


def parse_tool_arguments(tool: str, tokens: Sequence[str], schema: Mapping[str, Any]) -> dict[str, Any]:
    """`--name value` tokens as the arguments object `schema` describes."""
    properties: dict[str, dict[str, Any]] = {
        name: resolved(prop) for name, prop in (schema.get("properties") or {}).items() if isinstance(prop, Mapping)
    }
    by_flag = {flag(name): name for name in properties} | {f"--{name}": name for name in properties}
    arguments: dict[str, Any] = {}
    position = 0
    while position < len(tokens):
        token = tokens[position]
        position += 1
        if not token.startswith("--"):
            raise UsageError(
                f"unexpected {token!r}: {tool}'s arguments are flags, as in --name value. {_listing(tool, properties)}"
            )
        text, has_value, inline = token.partition("=")
        name = by_flag.get(text)
        negated = False
        if name is None and text.startswith("--no-") and by_flag.get("--" + text[5:]) is not None:
            name, negated = by_flag["--" + text[5:]], True
            if properties[name]["type"] != "boolean" or has_value:
                raise UsageError(f"{text} only works for a true/false argument. {_listing(tool, properties)}")
        if name is None:
            hint = did_you_mean(text, [flag(known) for known in properties])
            raise UsageError(f"{tool} has no argument {text}.{hint} {_listing(tool, properties)}")
        prop = properties[name]
        if prop["type"] == "boolean":
            if negated:
                value: Any = False
            elif has_value:
                value = _boolean(text, inline)
            elif position < len(tokens) and tokens[position].lower() in TRUE_WORDS + FALSE_WORDS:
                value = _boolean(text, tokens[position])
                position += 1
            else:
                value = True
        else:
            if not has_value:
                if position >= len(tokens):
                    raise UsageError(f"{text} needs a value ({_metavar(prop)}).")
                inline = tokens[position]
                position += 1
            value = _coerce(text, prop, inline)
        if prop["type"] == "array":
            arguments[name] = [*arguments.get(name, []), *value]
        elif name in arguments:
            raise UsageError(f"{flag(name)} is given twice; it takes one value.")
        else:
            arguments[name] = value
    missing = [flag(name) for name in schema.get("required") or [] if name not in arguments]
    if missing:
        raise UsageError(f"{tool} needs {' and '.join(missing)}. {_listing(tool, properties)}")
    return arguments


def did_you_mean(word: str, choices: Sequence[str] | Mapping[str, Any]) -> str:
    """` Did you mean X?` for the closest of `choices` to a mistyped `word`, or nothing."""
    spelled = {str(choice).casefold(): str(choice) for choice in choices}
    close = difflib.get_close_matches(word.casefold(), list(spelled), n=1, cutoff=0.6)
    return f" Did you mean {spelled[close[0]]}?" if close else ""


def as_flags(arguments: Mapping[str, Any]) -> list[str]:
    """An arguments object as the `--name value` tokens that `parse_tool_arguments` reads back."""
    tokens: list[str] = []
    for name, value in arguments.items():
        if isinstance(value, bool):
            tokens.append(flag(name) if value else "--no-" + flag(name)[2:])
        elif isinstance(value, list) and all(isinstance(item, (str, int, float)) for item in value):
            tokens += [flag(name), ",".join(str(item) for item in value)]
        elif isinstance(value, (dict, list)):
            tokens += [flag(name), json.dumps(value, ensure_ascii=False)]
        else:
            tokens += [flag(name), str(value)]
    return tokens


def _listing(tool: str, properties: Mapping[str, Any]) -> str:
    flags = ", ".join(flag(name) for name in properties) or "none"
    return f"Its arguments: {flags} (see `tasklens call {tool} --help`)."


def _boolean(text: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise UsageError(f"{text} takes true or false, not {raw!r}.")


def _coerce(text: str, prop: Mapping[str, Any], raw: str) -> Any:
    kind = prop["type"]
    if kind == "array":
        items = resolved(prop.get("items") or {"type": "string"})
        if items["type"] in ("object", "array"):
            return [_coerce(text, items, raw)]
        parts = [part.strip() for part in raw.split(",")]
        return [_coerce(text, items, part) for part in parts if part]
    if kind == "object":
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            raise UsageError(f'{text} takes a JSON object, as in \'{{"key": "value"}}\'.')
        return value
    if kind == "integer":
        try:
            value = int(raw.strip(), 10)
        except ValueError:
            raise UsageError(f"{text} takes a whole number, not {raw!r}.") from None
    elif kind == "number":
        try:
            value = float(raw.strip())
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise UsageError(f"{text} takes a number, not {raw!r}.")
    elif kind == "boolean":
        value = _boolean(text, raw)
    else:
        value = _choice(prop, raw)
    _check_bounds(text, prop, value)
    return value


def _choice(prop: Mapping[str, Any], raw: str) -> str:
    """`raw`, spelled as the enum spells it when they differ only in case (`--provider Ango`)."""
    matches = [c for c in prop.get("enum") or [] if isinstance(c, str) and c.casefold() == raw.strip().casefold()]
    return matches[0] if len(matches) == 1 else raw


def _check_bounds(text: str, prop: Mapping[str, Any], value: Any) -> None:
    choices = prop.get("enum")
    if choices and value not in choices:
        hint = did_you_mean(str(value), [str(c) for c in choices])
        raise UsageError(f"{text} must be one of {', '.join(str(c) for c in choices)} (got {value!r}).{hint}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        low, high = prop.get("minimum"), prop.get("maximum")
        if low is not None and value < low:
            raise UsageError(f"{text} must be at least {low} (got {value}).")
        if high is not None and value > high:
            raise UsageError(f"{text} must be at most {high} (got {value}).")


def _metavar(prop: Mapping[str, Any]) -> str:
    kind = prop["type"]
    if prop.get("enum"):
        return "{" + ",".join(str(c) for c in prop["enum"]) + "}"
    if kind == "array":
        items = resolved(prop.get("items") or {"type": "string"})
        return _metavar(items) + ",… (or repeat the flag)"
    return {"integer": "N", "number": "NUMBER", "boolean": "[true|false]", "object": "JSON"}.get(kind, "TEXT")


def tool_usage(tool: str, description: str, schema: Mapping[str, Any]) -> str:
    """`tasklens call TOOL --help`: the synopsis, the tool's description and one line per argument."""
    properties = {name: resolved(prop) for name, prop in (schema.get("properties") or {}).items()}
    required = set(schema.get("required") or [])
    synopsis = " ".join(f"{flag(n)} {_metavar(p)}" for n, p in properties.items() if n in required)
    lines = [f"usage: tasklens call {tool} {synopsis} [options] [--json] [--sandbox]".replace("  ", " "), ""]
    if description:
        lines += [description.strip(), ""]
    lines.append("arguments:")
    rows = []
    for name, prop in properties.items():
        left = f"{flag(name)} {_metavar(prop)}" if prop["type"] != "boolean" else flag(name)
        notes = [prop.get("description", "")]
        if name in required:
            notes.insert(0, "required")
        if prop.get("default") is not None:
            notes.append(f"default {prop['default']}")
        rows.append((left, "; ".join(n for n in notes if n)))
    width = max((len(left) for left, _ in rows), default=0)
    lines += [f"  {left:<{width}}  {right}".rstrip() for left, right in rows] or ["  (none)"]
    return "\n".join(lines) + "\n"
