"""Reading the PDF report with poppler-utils, for the tests of the evidence pack's report."""

from __future__ import annotations

import shutil


def tool(name: str) -> str:
    path = shutil.which(name) or f"/usr/bin/{name}"
    # Not a skip: without poppler-utils the PDF is untested (`make pdf-deps` installs it).
    assert shutil.which(path), f"{name} is missing: run `make pdf-deps` (Debian poppler-utils)"
    return path
