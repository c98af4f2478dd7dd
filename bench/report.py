"""Tables as text and Markdown, and the generated part of a docs page."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

START = "<!-- generated: start (do not edit by hand) -->"
END = "<!-- generated: end -->"


def markdown(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join(" ---: " for _ in headers) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def text(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))]
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def generated_part(content: str, page: Path | str = "the page") -> str:
    """What stands between the markers of ``content`` (ValueError if they are missing)."""
    if START not in content or END not in content or content.index(START) > content.index(END):
        raise ValueError(f"{page} has no '{START}' ... '{END}' section to regenerate")
    return content.split(START, 1)[1].split(END, 1)[0].strip()


def with_generated(content: str, generated: str, page: Path | str = "the page") -> str:
    """``content`` with ``generated`` between its markers, everything else as written."""
    generated_part(content, page)
    head, rest = content.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n\n{generated.strip()}\n\n{END}{tail}"


def replace_generated(page: Path, generated: str) -> None:
    """Put ``generated`` between the page's markers, keeping everything else as written."""
    page.write_text(with_generated(page.read_text(), generated, page))


def money(value: float) -> str:
    """Dollars to a precision that still shows small figures."""
    if value == 0:
        return "$0"
    if value >= 100:
        return f"${value:,.0f}"
    if value >= 1:
        return f"${value:,.2f}"
    return f"${value:.2g}" if value >= 0.001 else f"${value:.2e}"


def number(value: float) -> str:
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.2f}" if value < 100 else f"{value:,.0f}"
