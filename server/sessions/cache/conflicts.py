"""Reading a sidecar that holds git merge-conflict markers (DESIGN §3).

A committed sidecar changed on two branches merges into a file with
``<<<<<<<`` / ``=======`` / ``>>>>>>>`` blocks, which is not TOML. Rather than
hiding every output, the file is read as its two sides — the text outside the
blocks belongs to both — and the records of both are kept, each matched to
the current cells as usual.
"""

from __future__ import annotations

_OURS, _BASE, _THEIRS, _END = "<<<<<<<", "|||||||", "=======", ">>>>>>>"


def has_conflict_markers(text: str) -> bool:
    return "\n<<<<<<<" in "\n" + text and "\n>>>>>>>" in text


def conflict_sides(text: str) -> tuple[str, str] | None:
    """``(ours, theirs)`` texts of a file with conflict blocks; None if it has none
    or they are not well formed. A diff3 ``|||||||`` base section is dropped."""
    if not has_conflict_markers(text):
        return None
    ours: list[str] = []
    theirs: list[str] = []
    section = "both"
    for line in text.splitlines(keepends=True):
        if line.startswith(_OURS) and section == "both":
            section = "ours"
        elif line.startswith(_BASE) and section == "ours":
            section = "base"
        elif line.startswith(_THEIRS) and section in ("ours", "base"):
            section = "theirs"
        elif line.startswith(_END) and section == "theirs":
            section = "both"
        elif section == "both":
            ours.append(line)
            theirs.append(line)
        elif section == "ours":
            ours.append(line)
        elif section == "theirs":
            theirs.append(line)
    if section != "both":
        return None
    return "".join(ours), "".join(theirs)
