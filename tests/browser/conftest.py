"""Browser tests: Playwright drives Debian's headless Chromium against a live server.

Playwright never downloads a browser here: it launches /usr/bin/chromium (`make
browser-deps`). A missing Chromium fails the tests with that instruction; it never skips.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
from pytest_django.live_server_helper import LiveServer

from tests.factories import PASSWORD

ASYNC_UNSAFE = "DJANGO_ALLOW_ASYNC_UNSAFE"

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1440, "height": 900}
TIMEOUT_MS = 10_000


@pytest.fixture(scope="session")
def live_server(request: pytest.FixtureRequest) -> Iterator[LiveServer]:
    """pytest-django's live server, serving static files the production way.

    pytest-django wraps the server in staticfiles' finder-based handler, which cannot
    find the hashed names `{% static %}` writes under the manifest storage the suite
    uses, so every page would load without its CSS and JS. Here the handler is left
    out and WhiteNoise (in the middleware) serves the collected files, as in production.
    """
    request.getfixturevalue("collected_static")
    addr = (
        request.config.getvalue("liveserver")
        or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS")
        or "localhost"
    )
    server = LiveServer(addr, start=False)
    server.thread.static_handler = _no_static_handler
    server.start()
    yield server
    server.stop()


def _no_static_handler(application):  # type: ignore[no-untyped-def]
    return application


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """One Chromium for all the browser tests, closed when they are done.

    Playwright's sync API keeps an asyncio loop running in this thread while it is open,
    and the tests still use the ORM here, so Django's async-safety check is switched off
    (DJANGO_ALLOW_ASYNC_UNSAFE) for exactly that long. Package scope rather than session
    scope: the rest of the suite then runs with the check on, and the subprocesses it
    starts (`check --deploy`, the Celery worker) never inherit the variable.
    """
    if not CHROMIUM.exists():
        pytest.fail(
            f"The browser tests need Debian's Chromium at {CHROMIUM}, and it is missing. "
            "Install it with `make browser-deps` (apt-get install chromium, as root). "
            "Playwright must not download a browser of its own.",
            pytrace=False,
        )
    previous = os.environ.get(ASYNC_UNSAFE)
    os.environ[ASYNC_UNSAFE] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
            )
            yield browser
            browser.close()
    finally:
        if previous is None:
            os.environ.pop(ASYNC_UNSAFE, None)
        else:
            os.environ[ASYNC_UNSAFE] = previous


@pytest.fixture
def page(
    browser: Browser, live_server: LiveServer, transactional_db
) -> Iterator[Callable[..., Page]]:
    """A factory: `page(user)` opens a fresh browser context signed in as `user` through
    the real login form and returns its page; `page(None)` returns an anonymous page.

    A test fails at teardown if a script threw an error, the Content-Security-Policy blocked
    something or a static asset did not load; a request fails only where the test made it
    fail on purpose (`page.allow_failure(path)`).
    """
    contexts: list[BrowserContext] = []
    problems: list[str] = []
    failing_on_purpose: list[str] = []

    def check_asset(response) -> None:  # type: ignore[no-untyped-def]
        if "/static/" in response.url and response.status >= 400:
            problems.append(f"{response.status} {response.url}")

    def check_console(message) -> None:  # type: ignore[no-untyped-def]
        # Chromium reports what the CSP blocked on the console, not as a page error.
        if "Content Security Policy" in message.text:
            problems.append(f"CSP violation: {message.text}")

    def check_failed(request) -> None:  # type: ignore[no-untyped-def]
        # A request cut short because the page navigated away is not a failure.
        on_purpose = any(path in request.url for path in failing_on_purpose)
        if request.failure != "net::ERR_ABORTED" and not on_purpose:
            problems.append(f"{request.failure} {request.url}")

    def open_page(user=None) -> Page:  # type: ignore[no-untyped-def]
        context = browser.new_context(base_url=live_server.url, viewport=VIEWPORT)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        new_page = context.new_page()
        new_page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
        new_page.on("console", check_console)
        new_page.on("response", check_asset)
        new_page.on("requestfailed", check_failed)
        if user is not None:
            login(new_page, user.get_username(), PASSWORD)
        return new_page

    open_page.allow_failure = failing_on_purpose.append  # type: ignore[attr-defined]
    yield open_page
    for context in contexts:
        context.close()
    assert not problems, f"the browser reported problems: {problems}"


def login(page: Page, username: str, password: str) -> None:
    """Sign in through the login form and wait until the app has let us in."""
    page.goto("/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    try:
        page.wait_for_url(lambda url: "/login/" not in url)
    except PlaywrightTimeoutError:
        pytest.fail(f"{username} could not sign in through the login form", pytrace=False)


@pytest.fixture
def screenshot(artifacts_dir: Path) -> Callable[[Page, str], Path]:
    """`screenshot(page, "name.png")` saves the full page into test-artifacts/."""

    def save(page: Page, name: str) -> Path:
        path = artifacts_dir / name
        page.wait_for_load_state("networkidle")
        # Sticky elements are drawn where the scroll left them: capture from the top.
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(path), full_page=True, animations="disabled", caret="hide")
        return path

    return save
