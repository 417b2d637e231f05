"""A person's walk through the product, counted: the clicks (a click, a checkbox, a choice in a
list), the fields typed into, and the pages the browser loads."""

from __future__ import annotations

from dataclasses import dataclass, field

from playwright.sync_api import Locator, Page


@dataclass
class Walk:
    page: Page
    clicks: int = 0
    loads: int = 0
    typed: int = 0
    urls: list[str] = field(default_factory=list)

    def start(self) -> None:
        def navigated(frame) -> None:  # type: ignore[no-untyped-def]
            if frame == self.page.main_frame:
                self.loads += 1
                self.urls.append(frame.url)

        self.page.on("framenavigated", navigated)

    def click(self, target: Locator) -> None:
        self.clicks += 1
        target.click()

    def check(self, target: Locator) -> None:
        self.clicks += 1
        target.check()

    def choose(self, target: Locator, **option: str) -> None:
        self.clicks += 1
        target.select_option(**option)

    def fill(self, target: Locator, text: str) -> None:
        self.typed += 1
        target.fill(text)

    def summary(self, job: str) -> str:
        return f"{job}: {self.clicks} clicks, {self.typed} fields typed, {self.loads} page loads"
