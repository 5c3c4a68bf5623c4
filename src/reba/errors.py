"""Errors and per-item failure records. Every message names the item and what is wrong."""

from __future__ import annotations

from dataclasses import dataclass


def snippet(value: object, width: int = 40) -> str:
    """A short, printable preview of an input item for error messages."""
    text = value if isinstance(value, str) else repr(value)
    text = text.replace("\n", "\\n")
    return repr(text if len(text) <= width else text[: width - 1] + "…")


@dataclass(frozen=True)
class ItemFailure:
    """One input that could not be embedded, and why."""

    index: int
    preview: str
    reason: str
    kind: str = "value"  # "value": unusable content; "type": wrong Python type; "non_finite"

    def __str__(self) -> str:
        return f"item {self.index} ({self.preview}): {self.reason}"


class InvalidItemError(ValueError):
    """An input item is unusable (empty text, word not in its sentence, bad span, ...)."""

    def __init__(self, failures: list[ItemFailure]):
        self.failures = failures
        shown = "\n  ".join(str(f) for f in failures[:10])
        more = f"\n  ... and {len(failures) - 10} more" if len(failures) > 10 else ""
        count = f"{len(failures)} invalid input item{'s' if len(failures) != 1 else ''}"
        super().__init__(f"{count}:\n  {shown}{more}")


class InvalidItemTypeError(InvalidItemError, TypeError):
    """An input item has the wrong Python type (e.g. a number where text was expected)."""


def items_error(failures: list[ItemFailure]) -> Exception:
    """The exception to raise for ``failures`` when the caller asked for all-or-nothing."""
    non_finite = [f for f in failures if f.kind == "non_finite"]
    if non_finite:
        return NonFiniteEmbeddingError("\n".join(str(f) for f in non_finite[:10]))
    if any(f.kind == "type" for f in failures):
        return InvalidItemTypeError(failures)
    return InvalidItemError(failures)


class NonFiniteEmbeddingError(RuntimeError):
    """The model produced NaN or inf for some items (often an fp16 overflow)."""


class ModelNotAvailableError(ImportError):
    """A bundled model's package is not installed; the message says which pip line fixes it."""


class ModelIntegrityError(ValueError):
    """Model weights are not the bytes their pinned digest or size says; the message names the
    file, the expected and the actual value, and the fix."""


class UnknownModelError(ValueError):
    """The model name is not a bundled alias, a local path, or a loadable hub id."""
