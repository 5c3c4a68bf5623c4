"""Declarative evaluation task definitions and their JSONL loaders.

A data directory holds ``manifest.json`` and JSONL files (see the directory's README.md).
Each task type is described once in ``TASK_TYPES``: its level, its roles (one file each) and
the fields every row of a role must have.

Task names: the files of one task are grouped by a role suffix that depends on the task type
(``_train``/``_test`` for classification, ``_corpus``/``_queries`` for retrieval) and the task
name is the file stem with that suffix removed (``zh_tnews``, ``zh_CMRC``). Single-file tasks
keep their whole stem: ``_dev`` is not a role, so ``word/en_WiC_dev.jsonl`` is ``en_WiC_dev``,
which also says that its score comes from (a split of) the WiC dev set.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

SINGLE = "data"  # the role of the only file of a single-file task

Row = dict[str, Any]
# A field check: (what the value must be, in words; predicate).
Check = tuple[str, Callable[[Any], bool]]


class TaskDataError(ValueError):
    """A manifest entry or a data line does not match the documented schema."""


class UnknownTaskError(KeyError):
    """No task of that name in the data directory."""

    def __str__(self) -> str:  # KeyError would show the message with quotes around it
        return str(self.args[0])


def _is_int(value: Any) -> bool:
    return type(value) is int  # JSON true/false parse as bool, a subclass of int


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


STR: Check = ("a string", lambda v: isinstance(v, str))
WORD: Check = ("a non-empty string", lambda v: isinstance(v, str) and v != "")
NUMBER: Check = ("a number", lambda v: _is_int(v) or type(v) is float)
BINARY: Check = ("0 or 1", lambda v: _is_int(v) and v in (0, 1))
LABEL: Check = ("a string or an integer", lambda v: isinstance(v, str) or _is_int(v))
ANSWER: Check = ("an integer from 0 to 3", lambda v: _is_int(v) and 0 <= v <= 3)
FOUR_STRINGS: Check = ("a list of 4 strings", lambda v: _is_str_list(v) and len(v) == 4)
STRINGS: Check = ("a non-empty list of strings", lambda v: _is_str_list(v) and len(v) > 0)
SPAN: Check = (
    "[start, end] with 0 <= start < end",
    lambda v: isinstance(v, list) and len(v) == 2 and all(map(_is_int, v)) and 0 <= v[0] < v[1],
)


def _wic_spans(row: Row) -> str | None:
    for text, span in (("s1", "span1"), ("s2", "span2")):
        if row[span][1] > len(row[text]):
            return f"{span} {row[span]} goes past the end of {text} ({len(row[text])} chars)"
    return None


@dataclass(frozen=True)
class TaskType:
    level: Literal["word", "sentence"]
    roles: Mapping[str, Mapping[str, Check]]  # role -> field -> check, in file order
    row_check: Callable[[Row], str | None] | None = None  # cross-field check: problem or None


_TEXT_LABEL = {"text": STR, "label": LABEL}
_PAIR = {"s1": STR, "s2": STR}

TASK_TYPES: dict[str, TaskType] = {
    "word_odd_one_out": TaskType(
        "word", {SINGLE: {"word": WORD, "sentences": FOUR_STRINGS, "answer": ANSWER}}
    ),
    "wic": TaskType(
        "word",
        {SINGLE: {"word": STR, **_PAIR, "span1": SPAN, "span2": SPAN, "label": BINARY}},
        _wic_spans,
    ),
    "sts": TaskType("sentence", {SINGLE: {**_PAIR, "score": NUMBER}}),
    "pair_classification": TaskType("sentence", {SINGLE: {**_PAIR, "label": BINARY}}),
    "classification": TaskType("sentence", {"train": _TEXT_LABEL, "test": _TEXT_LABEL}),
    "clustering": TaskType("sentence", {SINGLE: _TEXT_LABEL}),
    "retrieval": TaskType(
        "sentence",
        {"corpus": {"id": STR, "text": STR}, "queries": {"query": STR, "relevant": STRINGS}},
    ),
    "reranking": TaskType(
        "sentence", {SINGLE: {"query": STR, "positive": STRINGS, "negative": STRINGS}}
    ),
    "texts": TaskType("sentence", {SINGLE: {"text": WORD}}),  # no labels: reba tune's criterion
}


@dataclass(frozen=True)
class TaskSpec:
    """What a task is, from the manifest; `files` are relative to the data directory."""

    name: str
    type: str
    lang: str
    metric: str  # the manifest's description of the metric
    files: tuple[str, ...]  # one per role, in the order of `roles`
    level: Literal["word", "sentence"]
    roles: tuple[str, ...]
    source: str  # public repository owner/name@commit the data came from


@dataclass(frozen=True)
class Task:
    """A task's spec and its validated rows; `sha256` maps each file to its digest."""

    spec: TaskSpec
    rows: Mapping[str, tuple[Row, ...]]  # role -> rows in file order
    sha256: Mapping[str, str]

    @property
    def name(self) -> str:
        return self.spec.name


def _split_role(stem: str, roles: tuple[str, ...]) -> tuple[str, str] | None:
    if roles == (SINGLE,):
        return stem, SINGLE
    for role in roles:
        if stem.endswith("_" + role):
            return stem[: -len(role) - 1], role
    return None


def _manifest_entries(manifest: Path) -> list[dict[str, Any]]:
    try:
        entries = json.loads(manifest.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise TaskDataError(f"{manifest}: invalid JSON: {error}") from None
    if not isinstance(entries, list):
        raise TaskDataError(f"{manifest}: expected a list of file entries")
    for i, entry in enumerate(entries):
        missing = [k for k in ("file", "task", "lang", "metric") if k not in entry]
        if missing:
            raise TaskDataError(f"{manifest}: entry {i} lacks {', '.join(missing)}")
        if entry["task"] not in TASK_TYPES:
            raise TaskDataError(
                f"{manifest}: entry {i} ({entry['file']}) has unknown task type "
                f"{entry['task']!r}; known: {', '.join(TASK_TYPES)}"
            )
    return entries


def _spec(name: str, by_role: dict[str, dict[str, Any]], manifest: Path) -> TaskSpec:
    first = next(iter(by_role.values()))
    task_type = TASK_TYPES[first["task"]]
    roles = tuple(task_type.roles)
    for key in ("task", "lang", "metric"):
        if len({entry[key] for entry in by_role.values()}) > 1:
            raise TaskDataError(f"{manifest}: the files of task {name!r} disagree on {key!r}")
    if set(by_role) != set(roles):
        raise TaskDataError(
            f"{manifest}: task {name!r} needs files for roles {', '.join(roles)}; "
            f"found {', '.join(by_role)}"
        )
    return TaskSpec(
        name=name,
        type=first["task"],
        lang=first["lang"],
        metric=first["metric"],
        files=tuple(by_role[role]["file"] for role in roles),
        level=task_type.level,
        roles=roles,
        source=first.get("source", ""),
    )


def load_task_specs(data_dir: str | Path) -> dict[str, TaskSpec]:
    """All tasks described by `data_dir`/manifest.json, by name, in manifest order."""
    manifest = Path(data_dir) / "manifest.json"
    groups: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in _manifest_entries(manifest):
        roles = tuple(TASK_TYPES[entry["task"]].roles)
        split = _split_role(Path(entry["file"]).stem, roles)
        if split is None:
            raise TaskDataError(
                f"{manifest}: {entry['file']} ({entry['task']}) must end with one of "
                + ", ".join(f"_{role}" for role in roles)
            )
        name, role = split
        if role in groups.setdefault(name, {}):
            raise TaskDataError(f"{manifest}: task {name!r} has two {role!r} files")
        groups[name][role] = entry
    return {name: _spec(name, by_role, manifest) for name, by_role in groups.items()}


def _row_problem(row: Any, fields: Mapping[str, Check], task_type: TaskType) -> str | None:
    if not isinstance(row, dict):
        return f"expected a JSON object, got {type(row).__name__}"
    for key, (expected, ok) in fields.items():
        if key not in row:
            return f"missing field {key!r}"
        if not ok(row[key]):
            return f"field {key!r} must be {expected}, got {json.dumps(row[key])[:60]}"
    return task_type.row_check(row) if task_type.row_check else None


def _parse_jsonl(data: bytes, path: Path, role: str, task_type: TaskType) -> tuple[Row, ...]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise TaskDataError(f"{path}: not UTF-8: {error}") from None
    rows = []
    # split("\n"), not splitlines(): JSON strings may hold raw U+2028 and similar separators.
    for lineno, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as error:
            raise TaskDataError(f"{path}:{lineno}: invalid JSON: {error.msg}") from None
        problem = _row_problem(row, task_type.roles[role], task_type)
        if problem:
            raise TaskDataError(f"{path}:{lineno}: {problem}")
        rows.append(row)
    if not rows:
        raise TaskDataError(f"{path}: no rows")
    return tuple(rows)


def load_task(data_dir: str | Path, name: str) -> Task:
    """Read and validate the files of task `name`, recording each file's sha256."""
    specs = load_task_specs(data_dir)
    if name not in specs:
        raise UnknownTaskError(f"unknown task {name!r}; available: {', '.join(specs)}")
    spec = specs[name]
    task_type = TASK_TYPES[spec.type]
    rows, digests = {}, {}
    for role, file in zip(spec.roles, spec.files, strict=True):
        path = Path(data_dir) / file
        data = path.read_bytes()
        digests[file] = hashlib.sha256(data).hexdigest()
        rows[role] = _parse_jsonl(data, path, role, task_type)
    return Task(spec, rows, digests)


def file_task(path: str | Path, task_type: str, *, lang: str = "") -> Task:
    """A single-file task read from ``path`` without a manifest; its name is the file's stem.
    Every row is checked as ``load_task`` does (errors name the file, line and field)."""
    if task_type not in TASK_TYPES:
        raise TaskDataError(f"unknown task type {task_type!r}; known: {', '.join(TASK_TYPES)}")
    kind = TASK_TYPES[task_type]
    if tuple(kind.roles) != (SINGLE,):
        raise TaskDataError(
            f"task type {task_type!r} has several files ({', '.join(kind.roles)}): describe "
            "them in a manifest.json and pass its folder"
        )
    path = Path(path)
    data = path.read_bytes()
    spec = TaskSpec(path.stem, task_type, lang, task_type, (str(path),), kind.level, (SINGLE,), "")
    rows = _parse_jsonl(data, path, SINGLE, kind)
    return Task(spec, {SINGLE: rows}, {str(path): hashlib.sha256(data).hexdigest()})


def texts_task(name: str, texts: Iterable[str]) -> Task:
    """A task of type ``texts`` (no labels) from in-memory texts, each checked."""
    rows = []
    for i, text in enumerate(texts):
        problem = _row_problem(
            {"text": text}, TASK_TYPES["texts"].roles[SINGLE], TASK_TYPES["texts"]
        )
        if problem:
            raise TaskDataError(f"{name}: text {i}: {problem}")
        rows.append({"text": text})
    if not rows:
        raise TaskDataError(f"{name}: no texts")
    digest = hashlib.sha256(json.dumps([r["text"] for r in rows]).encode()).hexdigest()
    spec = TaskSpec(name, "texts", "", "texts", (), "sentence", (SINGLE,), "")
    return Task(spec, {SINGLE: tuple(rows)}, {name: digest})
