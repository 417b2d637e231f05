"""A small HTML soundness check for rendered pages: tags close in order, ids are unique, every
form control has a label, and no template variable leaked through."""

from __future__ import annotations

from collections import Counter
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr", "path"}  # fmt: skip
OPTIONAL_END = {"p", "li", "option", "tr", "td", "th", "thead", "tbody", "dt", "dd"}


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[tuple[str, int]] = []
        self.problems: list[str] = []
        self.ids: Counter[str] = Counter()
        self.labelled: set[str] = set()
        self.controls: list[tuple[str, str]] = []  # (id, what)
        self.wrapped = 0  # controls inside a <label>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if values.get("id"):
            self.ids[values["id"] or ""] += 1
        if tag == "label" and values.get("for"):
            self.labelled.add(values["for"] or "")
        if tag in {"input", "select", "textarea"} and values.get("type") not in {
            "hidden",
            "submit",
        }:
            inside_label = any(t == "label" for t, _ in self.stack)
            if inside_label or values.get("aria-label"):
                self.wrapped += 1
            else:
                self.controls.append((values.get("id") or "", f"<{tag} name={values.get('name')}>"))
        if tag not in VOID:
            self.stack.append((tag, self.getpos()[0]))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while self.stack and self.stack[-1][0] != tag and self.stack[-1][0] in OPTIONAL_END:
            self.stack.pop()
        if not self.stack or self.stack[-1][0] != tag:
            self.problems.append(f"line {self.getpos()[0]}: </{tag}> closes nothing open "
                                 f"(open: {[t for t, _ in self.stack[-3:]]})")  # fmt: skip
            return
        self.stack.pop()


def html_problems(content: str) -> list[str]:
    checker = _Checker()
    checker.feed(content)
    checker.close()
    problems = list(checker.problems)
    problems += [f"<{tag}> opened on line {line} is never closed" for tag, line in checker.stack
                 if tag not in OPTIONAL_END]  # fmt: skip
    problems += [f"id {name!r} is used {n} times" for name, n in checker.ids.items() if n > 1]
    problems += [f"{what} has no label" for id_, what in checker.controls
                 if not id_ or id_ not in checker.labelled]  # fmt: skip
    if "{{" in content or "{%" in content:
        problems.append("a template tag leaked into the page")
    return problems
