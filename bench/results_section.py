"""The soak's section of bench/RESULTS.md: `make soak` writes it, `make bench` keeps it.

`make bench` rewrites the file from its own run; the soak runs apart (15 minutes, not part of
`make bench`), so its figures live in a section of their own, which each writer carries over.
"""

from __future__ import annotations

from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SOAK_HEADING = "## Load and faults (`make soak`)"


def soak_section(path: Path = RESULTS) -> str:
    """The soak's section as the file holds it (its heading included), or ""."""
    text = path.read_text() if path.exists() else ""
    start = text.find(SOAK_HEADING)
    if start < 0:
        return ""
    end = text.find("\n## ", start + len(SOAK_HEADING))
    return text[start:] if end < 0 else text[start : end + 1]


def write_soak_section(body: list[str], path: Path = RESULTS) -> None:
    """Put the soak's section, `body` under its heading, in place of the one before."""
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    old = soak_section(path)
    section = "\n".join([SOAK_HEADING, "", *body, "", ""])  # a blank line before what follows
    text = text.replace(old, section) if old else text.rstrip("\n") + "\n\n" + section
    path.write_text(text)
