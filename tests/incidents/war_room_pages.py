"""Reading the war room page: where its live poller asks for news. For the war room's tests
(tests/incidents/test_war_room.py) and the order in which a route checks access
(tests/incidents/test_route_access_order.py)."""

from __future__ import annotations

import re


def poll_url(page) -> str:  # type: ignore[no-untyped-def]
    match = re.search(rb'id="live" hx-get="([^"]+)"', page.content)
    assert match, "the war room has no poller"
    return match.group(1).decode().replace("&amp;", "&")
