"""The pieces of ``sessions export --to html|md`` that need no kernel: the templates
ship in the wheel (pyproject's package-data matches every file), they inherit
from nbconvert's, and the report's wording of times and math detection."""

from __future__ import annotations

import fnmatch
import tomllib
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from sessions.cache.records import CellRecord
from sessions.export.convert import TEMPLATES
from sessions.export.report import has_math, produced_between, ran_text, utc_text

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "server" / "sessions"


def test_every_template_file_is_package_data() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        patterns = tomllib.load(file)["tool"]["setuptools"]["package-data"]["sessions"]
    files = [p.relative_to(PACKAGE).as_posix() for p in TEMPLATES.rglob("*") if p.is_file()]
    assert len(files) >= 6
    missing = [f for f in files if not any(fnmatch.fnmatch(f, pattern) for pattern in patterns)]
    assert missing == [], f"add them to [tool.setuptools.package-data] in pyproject.toml: {missing}"


def test_templates_inherit_from_nbconvert() -> None:
    html = (TEMPLATES / "sessions_html" / "index.html.j2").read_text()
    markdown = (TEMPLATES / "sessions_md" / "index.md.j2").read_text()
    assert html.startswith("{%- extends 'lab/index.html.j2' -%}")
    assert markdown.startswith("{%- extends 'markdown/index.md.j2' -%}")
    script = (TEMPLATES / "sessions_script" / "index.py.j2").read_text()
    assert script.startswith("{%- extends 'python/index.py.j2' -%}")


def record(started: datetime | None, duration: float | None = 0.5) -> CellRecord:
    return CellRecord(hash="h", index=0, run=1, started=started, duration=duration)


def test_times_are_said_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert utc_text(datetime(2026, 11, 21, 11, 0, 5, tzinfo=paris)) == "2026-11-21 10:00:05 UTC"
    assert utc_text(datetime(2026, 11, 21, 10, 0, 5)) == "2026-11-21 10:00:05 UTC"
    first = datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC)
    assert ran_text(record(first, 0.123)) == "ran 2026-11-21 10:00:00 UTC in 0.12 s"
    assert ran_text(record(None, None)) == "ran (time not recorded)"
    assert ran_text(None) == ""
    assert produced_between([]) == ""
    assert produced_between([record(first), None]) == "2026-11-21 10:00:00 UTC"
    same_day = [record(first + timedelta(hours=2)), record(first)]
    assert produced_between(same_day) == "2026-11-21 10:00:00 to 12:00:00 UTC"
    two_days = [record(first), record(first + timedelta(days=1))]
    assert produced_between(two_days) == "2026-11-21 10:00:00 UTC to 2026-11-22 10:00:00 UTC"


def markdown(source: str) -> dict[str, object]:
    return {"cell_type": "markdown", "source": source}


def test_math_is_found_where_a_browser_would_typeset_it() -> None:
    assert has_math([markdown("The area is $r^2 \\pi$.")])
    assert has_math([markdown("\\begin{align} a \\end{align}")])
    assert not has_math([markdown("It costs $5.\nOr 5 $ in cash.")])  # one per line
    latex = {"cell_type": "code", "source": "", "outputs": [{"data": {"text/latex": "$x$"}}]}
    assert has_math([latex])
    assert not has_math([{"cell_type": "code", "source": "x = '$a$'", "outputs": []}])
