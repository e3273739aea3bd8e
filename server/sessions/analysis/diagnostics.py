"""Diagnostics produced by the pure core, in file coordinates.

The language server converts these to LSP diagnostics; the CLI prints them.
Codes are a contract (docs/protocol.md): edited, upstream, run-error,
syntax-error, undefined-name, used-before-defined, cycle, redefined,
star-import, kernel-setup, notebook-too-large (the language server's, for a
document over the size limit), cell-boundary (the language server's, for a
notebook-view cell that makes the file's cells differ from the view's).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "information", "hint"]

SEVERITY_RANK: dict[Severity, int] = {"error": 0, "warning": 1, "information": 2, "hint": 3}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem at a place in the notebook file.

    Lines and columns are 0-based and refer to the whole file (not the cell);
    columns count Unicode code points of the line.
    """

    code: str
    severity: Severity
    message: str
    cell: int
    line: int
    col: int
    end_line: int
    end_col: int

    def to_json(self) -> dict[str, object]:
        return {
            "code": self.code,
            "severity": self.severity,
            "message": self.message,
            "cell": self.cell,
            "range": {
                "start": {"line": self.line, "character": self.col},
                "end": {"line": self.end_line, "character": self.end_col},
            },
        }
