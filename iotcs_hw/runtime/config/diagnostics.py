"""Problems found in a model file, reported all at once like a compiler does.

Every check appends a :class:`Diagnostic` to a :class:`Diagnostics` collector instead of
raising, so one run of ``iotcs-hw check`` lists every mistake.  At the end the collector raises a
single :class:`ModelFileError` carrying them all, sorted by file, line and column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from iotcs_hw.errors import ConfigError
from iotcs_hw.runtime.config.model import SourcePos


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem: where it is and what is wrong (``FILE:LINE:COLUMN: message``)."""

    file: str
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


class ModelFileError(ConfigError):
    """A model file (or a device model it uses) is invalid; ``diagnostics`` lists every problem.

    Not retryable: fix the file.  ``str()`` is the full list, one ``FILE:LINE:COLUMN: message``
    per line, sorted.
    """

    def __init__(self, diagnostics: Iterable[Diagnostic]) -> None:
        self.diagnostics: tuple[Diagnostic, ...] = tuple(sorted(set(diagnostics)))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


class Diagnostics:
    """Collects diagnostics; :meth:`raise_if_any` ends a validation pass."""

    def __init__(self) -> None:
        self._items: list[Diagnostic] = []

    def error(self, pos: SourcePos, message: str) -> None:
        """Record ``message`` at ``pos``."""
        self._items.append(Diagnostic(pos.file, pos.line, pos.column, message))

    def extend(self, items: Iterable[Diagnostic]) -> None:
        """Record several diagnostics found elsewhere."""
        self._items.extend(items)

    def __len__(self) -> int:
        return len(self._items)

    def __bool__(self) -> bool:
        return bool(self._items)

    @property
    def items(self) -> tuple[Diagnostic, ...]:
        """Everything recorded so far, sorted."""
        return tuple(sorted(set(self._items)))

    def raise_if_any(self) -> None:
        """Raise :class:`ModelFileError` with everything recorded, if anything was."""
        if self._items:
            raise ModelFileError(self._items)
