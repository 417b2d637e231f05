"""The environments page shows the gate policy's criteria as status, not as inputs."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_a_viewer_reads_the_required_criteria_without_checkboxes(client, viewer, fraud):
    client.force_login(viewer)
    page = client.get(f"/systems/{fraud.slug}/environments/").content.decode()
    start = page.index('id="gate-policy"')
    policy = page[start : page.index("</section>", start)]
    assert 'class="policy-requirements"' in policy
    assert 'type="checkbox"' not in policy  # the viewer may not change it: no form at all
    assert "Required</span>" in policy or "No criterion required." in policy
