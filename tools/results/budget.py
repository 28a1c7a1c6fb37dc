"""Token budgets and text cuts: the one rule every result follows.

A result is filled with what the next decision needs first, up to its token budget; what does not fit
is said at the place it was left out, with how to get it. Budgets are checked without a tokenizer at
run time, by an estimate that errs high. Text is cut only when it must be, and where it does the
least harm: a person's note at a clause boundary (never mid-word), a machine message in the middle,
since its end carries the status code and its start says what failed.
"""

from __future__ import annotations

import re

ELLIPSIS = "…"
_CLAUSE_END = re.compile(r"[.;:!?](?=\s)|\s[-–—]\s")
_DIGIT_RUN = re.compile(r"[0-9a-fA-F]{6,}|[0-9]{3,}")


def token_estimate(text: str) -> float:
    """An upper estimate of a JSON text's o200k tokens, without a tokenizer at run time.

    Runs of hex or decimal digits (ids, timestamps) tokenize at under 2 characters per token, other
    ASCII (keys, names, e-mail addresses, sentences) at 3 or more; any other character counts as 2
    tokens (CJK is about 1, emoji up to 3). On tasklens results it errs high by 5-40%."""
    other = len(text) - len(text.encode("ascii", "ignore"))
    digits = sum(len(run) for run in _DIGIT_RUN.findall(text))
    return digits / 1.7 + (len(text) - other - digits) / 3.0 + 2 * other


def uniform_token_estimate(text: str, ascii_per_token: float) -> float:
    """An upper estimate that assumes one density for all ASCII: `ascii_per_token` characters per token
    (1.8 for results dense with random hex ids, 2.5 for ids and e-mail addresses, 3-4 for prose); any
    other character counts as 2 tokens. Results whose budgets were set against this estimate keep it."""
    other = len(text) - len(text.encode("ascii", "ignore"))
    return (len(text) - other) / ascii_per_token + 2 * other


def cut_note(text: str, limit: int) -> str:
    """A person's text (a note, a comment) within `limit` characters: whole if it fits, else up to the
    last clause boundary that fits, else the last whole word, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    room = text[: max(1, limit - len(ELLIPSIS))]
    clause_ends = [m.end() for m in _CLAUSE_END.finditer(room)]
    if clause_ends and clause_ends[-1] >= len(room) // 2:
        return room[: clause_ends[-1]].rstrip(" -–—") + ELLIPSIS
    space = room.rfind(" ")
    if space >= len(room) // 2:
        return room[:space].rstrip(" ,;:-–—") + ELLIPSIS
    return room + ELLIPSIS


def cut_message(text: str, limit: int) -> str:
    """A machine message (an error, a URL, a path) within `limit` characters: its start and its end,
    the middle elided, so "what failed" and the trailing status code both survive."""
    if len(text) <= limit:
        return text
    room = max(2, limit - len(f" {ELLIPSIS} "))
    tail = room // 2
    head = room - tail
    return f"{text[:head].rstrip()} {ELLIPSIS} {text[len(text) - tail :].lstrip()}"
