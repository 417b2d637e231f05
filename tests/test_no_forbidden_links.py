"""No page offers a person a link they may not follow.

Each persona signs in and follows every same-site link from the home page, breadth first and
bounded; no link may answer 403. A control for an action the persona may not take is hidden
or shown disabled with its reason, never a live link that ends on a refusal.
"""

from __future__ import annotations

from collections import deque
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
from django.test import Client

from incidents import services
from tests.factories import ReadyReleaseFactory, SubmittedReleaseFactory
from tests.matrix import ROLE_HOLDERS

MAX_PAGES = 90  # per persona: the pages of one system, its releases and incidents fit
SKIPPED_PREFIXES = ("/logout/", "/static/", "/admin/", "/api/", "/metrics", "/healthz", "/readyz")


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


def _links(page: str, base: str) -> list[str]:
    parser = _Links()
    parser.feed(page)
    found = []
    for href in parser.hrefs:
        url = urlsplit(urljoin(base, href))
        if url.scheme not in ("", "http") or url.netloc not in ("", "testserver"):
            continue  # another site
        if url.path.startswith(SKIPPED_PREFIXES):
            continue
        found.append(url.path + (f"?{url.query}" if url.query else ""))
    return found


def crawl(client: Client) -> tuple[list[str], dict[str, str]]:
    """Follow links from the home page; the pages seen, and each 403 with the page linking it."""
    queue: deque[tuple[str, str]] = deque([("/", "(start)")])
    seen_paths: set[str] = set()
    visited: list[str] = []
    refused: dict[str, str] = {}
    while queue and len(visited) < MAX_PAGES:
        url, source = queue.popleft()
        path = urlsplit(url).path
        # One query-string variant per path: filters and pages of a list add nothing here.
        if path in seen_paths:
            continue
        seen_paths.add(path)
        response = client.get(url)
        visited.append(url)
        if response.status_code == 403:
            refused[url] = source
            continue
        if response.status_code != 200 or response.streaming:
            continue
        if "text/html" not in response.get("Content-Type", ""):
            continue
        for link in _links(response.content.decode(), url):
            queue.append((link, url))
    return visited, refused


@pytest.fixture
def crawl_world(  # type: ignore[no-untyped-def]
    successor, incident, oncall_lead, responder, make_release, model_owner, production,
    rollback_owner, people,
):  # fmt: skip
    """2.1.0 live, an open incident with an ML lead, and 3.0.0 waiting for approval."""
    services.assign_role(actor=oncall_lead, incident=incident, role="ml_lead", user=responder)
    waiting = ReadyReleaseFactory(
        release=make_release("3.0.0"), actor=model_owner, environment=production,
        rollback_owners=[rollback_owner],
    )  # fmt: skip
    SubmittedReleaseFactory(release=waiting, actor=model_owner)
    return people


@pytest.mark.parametrize("persona", [*ROLE_HOLDERS, "outsider"])
def test_it_offers_no_link_that_answers_403(crawl_world, persona: str) -> None:
    client = Client()
    client.force_login(crawl_world[persona])
    visited, refused = crawl(client)
    assert len(visited) > 3, f"the crawl saw too little: {visited}"
    assert not refused, "links that answer 403, with the page offering each:\n" + "\n".join(
        f"  {url}  (from {source})" for url, source in refused.items()
    )


def test_it_hides_what_a_viewer_may_not_do(crawl_world) -> None:
    client = Client()
    client.force_login(crawl_world["viewer"])
    home = client.get("/").content.decode()
    assert "Declare incident" not in home
    assert 'href="/audit/"' not in home  # the navigation leaves out the trail
    system = client.get("/systems/fraud/").content.decode()
    assert "Alert tokens" not in system and "Registry intake" not in system
    audit = client.get("/audit/").content.decode()
    assert "No audit trail is yours to read." in audit
    assert "No events match" not in audit


def test_it_offers_the_on_call_lead_what_they_may_do(crawl_world) -> None:
    client = Client()
    client.force_login(crawl_world["oncall_lead"])
    home = client.get("/").content.decode()
    assert "Declare incident" in home and 'href="/audit/"' in home
    assert "No audit trail is yours to read." not in client.get("/audit/").content.decode()
