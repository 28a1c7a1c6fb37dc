"""Answers per question: how often each question was answered, and how often with each option.

Questions are flattened by path ("Vehicle > Occluded": a tool's questions under its class); answers
are counted per option; a tree-dropdown counts only its leaves (entries that are not a prefix of
another); `text` questions count answers and their length. Past `MAX_QUESTIONS` paths, or
`MAX_VALUES` options of one question, the rarest fold into "(other)".
"""

from __future__ import annotations

from collections import Counter
from itertools import chain, compress, islice, repeat
from typing import TYPE_CHECKING, Any

import msgspec

from ..records import QUESTION, AnyQuestion, children
from .columns import Columns
from .common import OTHER, text
from .render import Rendering, name, top

if TYPE_CHECKING:
    from .parts import Answers

MAX_QUESTIONS = 1000  # distinct question paths tracked
MAX_VALUES = 100  # distinct answers tracked per question (the least frequent fold into "(other)")
OPTIONS_FOLD_AT = 5000  # (question, answer) pairs held before the first fold check
QUESTION_CACHE = 5000  # distinct raw questions whose decoded answers are kept between batches (~1-2 MB)

# What one raw question contributes: answered paths, (path, option) pairs, (path, characters) of text answers
_Events = tuple[list[str], list[tuple[str, str]], list[tuple[str, int]]]
RawQuestion = tuple[str | None, bytes]  # (parent path, raw question)


class QuestionsSection:
    """Counts answers per path and option. The occurrences of each distinct (parent, raw question)
    are counted in C into a pending table; they reach the tables (`answered`, `answers`,
    `text_chars`, which settle them when read) once per distinct question rather than once per batch,
    and always before a table could pass its bound, so every fold sees the counts it would one batch
    at a time."""

    def __init__(self) -> None:
        self._answered: Counter[str] = Counter()
        self._answers: Counter[tuple[str, str]] = Counter()
        self._text_chars: dict[str, int] = {}  # text questions' total answer length
        self._options_bound = OPTIONS_FOLD_AT
        self._pending: Counter[RawQuestion] = Counter()  # occurrences not in the tables yet
        self._pending_events: dict[RawQuestion, _Events] = {}
        self._growth = [0, 0]  # at most this many paths and options the pending occurrences add
        # caches, not figures (left out when pickled)
        self.events: dict[RawQuestion, _Events] = {}  # what each raw question contributes
        self._paths: dict[tuple[str | None, str], str] = {}  # (parent path, title) → path

    def __getstate__(self) -> dict[str, Any]:
        self._settle()
        return {**self.__dict__, "events": {}, "_paths": {}}

    @property
    def answered(self) -> Counter[str]:
        self._settle()
        return self._answered

    @property
    def answers(self) -> Counter[tuple[str, str]]:
        self._settle()
        return self._answers

    @property
    def text_chars(self) -> dict[str, int]:
        self._settle()
        return self._text_chars

    def count(self, columns: Columns) -> None:
        """Count the batch's raw questions: each distinct (parent, raw question) is decoded and walked
        once (cached across batches); its occurrences are counted in C."""
        asked = [tool.classifications for tool in columns.flat_tools]
        lists = list(filter(None, asked))
        raws = list(chain.from_iterable(lists))
        parents: list[str | None] = list(compress(columns.tool_keys, asked))  # a tool's questions: its class
        if len(parents) < len(raws):  # some tool with several questions
            parents = list(chain.from_iterable(map(repeat, parents, map(len, lists))))
        raws += chain.from_iterable(questions for questions in columns.questions if questions)
        if not raws:
            return
        parents += repeat(None, len(raws) - len(parents))
        # JSON text never holds a NUL byte (it would be an unescaped control character), so one join
        # and one split copy every raw question into its own `bytes` in two C calls.
        pieces = b"\x00".join(raws).split(b"\x00")
        if len(pieces) != len(raws):  # not JSON after all: copy one by one
            pieces = [bytes(raw) for raw in raws]
        pending, cache, growth = self._pending, self.events, self._growth
        known = len(pending)
        pending.update(zip(parents, pieces, strict=True))
        for key in islice(pending, known, None):  # the questions first met in this batch
            events = cache.get(key)
            if events is None:
                events = cache[key] = self._walk(*key)
            self._pending_events[key] = events
            growth[0] += len(events[0])
            growth[1] += len(events[1])
        if (
            len(self._pending) >= QUESTION_CACHE
            or len(self._answered) + growth[0] > MAX_QUESTIONS * 3 // 2
            or len(self._answers) + growth[1] > self._options_bound
        ):
            self._settle()
            self._bound()
        if len(cache) >= QUESTION_CACHE:
            cache.clear()
        if len(self._paths) > 4 * MAX_QUESTIONS:
            self._paths.clear()

    def _settle(self) -> None:
        """Add the pending occurrences to the tables."""
        if not self._pending:
            return
        answered, answers, text_chars, events = self._answered, self._answers, self._text_chars, self._pending_events
        for key, times in self._pending.items():
            paths, options, texts = events[key]
            for path in paths:
                answered[path] += times
            for pair in options:
                answers[pair] += times
            for path, chars in texts:
                text_chars[path] = text_chars.get(path, 0) + chars * times
        self._pending.clear()
        self._pending_events.clear()
        self._growth = [0, 0]

    def merge(self, other: QuestionsSection) -> None:
        self.answered.update(other.answered)
        self.answers.update(other.answers)
        for path, chars in other.text_chars.items():
            self.text_chars[path] = self.text_chars.get(path, 0) + chars
        self._bound()

    def _bound(self) -> None:
        """Fold the rarest questions, and the rarest options of each question, into "(other)" once a
        table passes its bound (questions at 1.5x, options at twice the count after the last fold)."""
        answered, answers = self._answered, self._answers
        if len(answered) > MAX_QUESTIONS * 3 // 2:
            keep = {path for path, _ in answered.most_common(MAX_QUESTIONS - 1)} | {OTHER}
            dropped = {path for path in answered if path not in keep}
            for path in dropped:
                answered[OTHER] += answered.pop(path)
            for pair in [pair for pair in answers if pair[0] in dropped]:
                answers[(OTHER, OTHER)] += answers.pop(pair)
            for path in dropped & self._text_chars.keys():
                del self._text_chars[path]
        if len(answers) > self._options_bound:
            _fold_options(answers)
            self._options_bound = max(OPTIONS_FOLD_AT, 2 * len(answers))

    def _walk(self, prefix: str | None, raw: bytes) -> _Events:
        """The answers one question (and its nested ones) contributes."""
        events: _Events = ([], [], [])
        try:
            root = QUESTION.decode(raw)
        except msgspec.DecodeError:  # includes ValidationError: a question that is not an object
            return events
        stack: list[tuple[str | None, AnyQuestion]] = [(prefix, root)]
        while stack:
            parent, question = stack.pop()
            title = question.title
            if type(title) is not str or not title:
                title = text(question.title) or text(question.schemaId) or "(untitled)"
            path = self._paths.get((parent, title)) or self._path(parent, title)
            answer = question.answer
            if answer is not None and answer != "" and answer != []:
                _answer(events, path, answer, question.tool)
            stack.extend((path, child) for child in children(question))
        return events

    def _path(self, parent: str | None, title: str) -> str:
        path = self._paths[(parent, title)] = f"{parent} > {title}" if parent else title
        return path

    def render(self, out: Rendering) -> dict[str, Answers]:
        from .parts import Answers  # only where a summary is rendered (see parts)

        shown = top(self.answered, out.k)
        out.cut("questions", len(shown), len(self.answered))
        options: dict[str, dict[str, int]] = {}
        shown_paths = {path for path, _ in shown}
        for (path, option), n in self.answers.items():
            if path in shown_paths:
                options.setdefault(path, {})[option] = n
        questions: dict[str, Answers] = {}
        cut_answers = False
        for path, answered in shown:
            values = options.get(path, {})
            if path in self.text_chars and not values:
                questions[name(path)] = Answers(answered=answered, avg_chars=round(self.text_chars[path] / answered, 1))
                continue
            answers = top(values, out.nested)
            cut_answers = cut_answers or len(values) > len(answers)
            if out.detailed:
                out.cut(f"answers of '{name(path)}'", len(answers), len(values))
            questions[name(path)] = Answers(answered=answered, answers={name(a): n for a, n in answers})
        if cut_answers and not out.detailed:
            out.cuts.append(f"answers {out.nested} per question")
        return questions


def _answer(events: _Events, path: str, answer: Any, tool: Any) -> None:
    """One answer: a single choice, text (length only), multi-select, tree paths (leaves), other."""
    answered, options, texts = events
    answered.append(path)
    if tool == "text":
        texts.append((path, len(answer) if type(answer) is str else 0))
    elif type(answer) is list:
        for item in _leaves(answer) if tool == "tree-dropdown" else answer:
            label = item if type(item) is str else _option(item)
            if label is not None:
                options.append((path, label))
    else:
        label = _option(answer)
        if label is not None:
            options.append((path, label))


def _option(value: Any) -> str | None:
    """One answer option as the text it is counted under."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return None
    return "(object)"


def _leaves(paths: list[Any]) -> list[Any]:
    """Tree-dropdown answers list every selected node as "a / b"; keep the nodes no other one extends."""
    texts = [p for p in paths if isinstance(p, str)]
    return [p for p in paths if not (isinstance(p, str) and any(o.startswith(p + " / ") for o in texts))]


def _fold_options(answers: Counter[tuple[str, str]]) -> None:
    """Per question, keep its `MAX_VALUES - 1` most frequent options and fold the rest into "(other)"."""
    by_path: dict[str, list[tuple[int, str]]] = {}
    for (path, option), count in answers.items():
        by_path.setdefault(path, []).append((count, option))
    for path, options in by_path.items():
        if len(options) <= MAX_VALUES:
            continue
        options.sort(key=lambda item: (-item[0], item[1]))
        for count, option in options[MAX_VALUES - 1 :]:
            if option != OTHER:
                del answers[(path, option)]
                answers[(path, OTHER)] += count
