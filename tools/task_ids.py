"""Validation and path encoding of the ids an agent passes in.

An id comes from a language model, whose arguments can be anything (including prompt-injected text).
It must never change the structure of the upstream URL: no `../`, `/`, `?`, `#`, `%`, whitespace or
control characters. Real ids on all four providers are short runs of letters, digits, `-` and `_`
(Ango 24-hex ObjectIds, Deepomatic digit strings, Send.ai `task_…`, Maxsight UUIDs), so anything else
is refused with a sentence that says what an id looks like; what passes is still percent-encoded as
one path segment, as defence in depth.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from .errors import ProviderError

MAX_ID_LENGTH = 128
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")


def id_text(value: Any) -> Any:
    """An id sent as a JSON integer, read as its decimal text; anything else is left to validation.

    Deepomatic ids are strings of digits, its own SDK passes them as ints, and clients coerce
    `task_id=269999729` to a number (the MCP Inspector CLI does): refusing those would fail a valid
    request. Booleans and floats are not ids and stay refused.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


def checked_id(provider: str, what: str, value: str, example: str) -> str:
    """Return `value` if it is a plausible id, else raise an `invalid_argument` ProviderError."""
    if not isinstance(value, str) or not value.strip():
        raise _invalid(provider, what, "is empty", example)
    if len(value) > MAX_ID_LENGTH:
        raise _invalid(provider, what, f"is {len(value)} characters long (at most {MAX_ID_LENGTH})", example)
    if not _ID.fullmatch(value):
        raise _invalid(provider, what, "contains characters an id cannot have", example)
    return value


def path_segment(provider: str, what: str, value: str, example: str) -> str:
    """A checked id, percent-encoded so that it can only ever be one path segment."""
    return quote(checked_id(provider, what, value, example), safe="")


def _invalid(provider: str, what: str, problem: str, example: str) -> ProviderError:
    return ProviderError(
        provider,
        "invalid_argument",
        hint=(
            f"{what} {problem}; {provider} ids are letters, digits, '-', '_', '.' or ':' "
            f"(for example {example}). Pass the id exactly as the provider shows it."
        ),
    )
