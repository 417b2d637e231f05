"""The egress policy (governance/egress.py) and the save-time refusal of the URL fields."""

from __future__ import annotations

import ipaddress
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError

from governance import egress
from governance.validators import validate_backend_config, validate_web_url
from releases import services
from releases.models import BackendType

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def nothing_allowed(settings):  # type: ignore[no-untyped-def]
    """Production's default: no network allowed (the suite allows loopback)."""
    settings.BACKEND_ALLOWED_NETWORKS = ()


REFUSED = [
    ("127.0.0.1", "a loopback address"),
    ("127.255.0.9", "a loopback address"),
    ("::1", "a loopback address"),
    ("169.254.169.254", "a link-local address (such as cloud metadata)"),
    ("fe80::1", "a link-local address (such as cloud metadata)"),
    ("10.1.2.3", "a private address"),
    ("172.16.0.1", "a private address"),
    ("172.31.255.254", "a private address"),
    ("192.168.1.1", "a private address"),
    ("fc00::1", "a private address"),
    ("fd12:3456::1", "a private address"),
    ("100.64.0.1", "a shared (carrier-grade NAT) address"),
    ("100.127.255.254", "a shared (carrier-grade NAT) address"),
    ("0.0.0.0", "the unspecified address"),
    ("::", "the unspecified address"),
    ("224.0.0.1", "a multicast address"),
    ("ff02::1", "a multicast address"),
    ("240.0.0.1", "a reserved address"),
    ("255.255.255.255", "a reserved address"),
    ("192.0.2.1", "a private address"),  # documentation: Python counts it private
    ("::127.0.0.1", "a reserved address"),  # IPv4-compatible IPv6, deprecated
    ("fec0::1", "a site-local address"),
    ("::ffff:127.0.0.1", "a loopback address carried in IPv6"),
    ("::ffff:169.254.169.254", "a link-local address (such as cloud metadata) carried in IPv6"),
    ("2002:7f00:1::", "a loopback address carried in IPv6"),  # 6to4 of 127.0.0.1
    ("2002:a00:1::", "a private address carried in IPv6"),  # 6to4 of 10.0.0.1
    ("64:ff9b::a9fe:a9fe", "a link-local address (such as cloud metadata) carried in IPv6"),
]


@pytest.mark.parametrize(("address", "rule"), REFUSED)
def test_it_refuses_every_address_that_is_not_public(address, rule):
    assert egress.refusal(ipaddress.ip_address(address), allowed=()) == rule


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111",
                                     "100.128.0.1", "172.32.0.1", "2002:5db8:d822::"])  # fmt: skip
def test_it_lets_public_addresses_through(address):
    assert egress.refusal(ipaddress.ip_address(address), allowed=()) is None


def test_the_allowlist_lifts_the_refusal_for_its_networks_only():
    allowed = egress.parse_networks("10.20.0.0/16, fd00:1::/64")
    assert egress.refusal(ipaddress.ip_address("10.20.3.4"), allowed) is None
    assert egress.refusal(ipaddress.ip_address("fd00:1::9"), allowed) is None
    assert egress.refusal(ipaddress.ip_address("10.21.0.1"), allowed) == "a private address"
    # An IPv4 address carried in IPv6 is allowed as the IPv4 address it is.
    assert egress.refusal(ipaddress.ip_address("::ffff:10.20.0.1"), allowed) is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("10.0.0.1/8", "'10.0.0.1/8' is not a network in CIDR notation (10.0.0.1/8 has host bits"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not a network"),
        ("intranet", "'intranet' is not a network"),
    ],
)
def test_the_allowlist_is_parsed_strictly(text, problem):
    with pytest.raises(ValueError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        egress.parse_networks(f"127.0.0.0/8,{text}")


def test_a_bad_allowlist_stops_the_process_at_start_with_the_entry_named():
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="config.settings",
               BACKEND_ALLOWED_NETWORKS="127.0.0.0/8, 192.168.1.1/24")  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-c", "import django; django.setup()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert (
        "ImproperlyConfigured: BACKEND_ALLOWED_NETWORKS: '192.168.1.1/24' is not a network in "
        "CIDR notation" in done.stderr
    )


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("localhost", "127.0.0.1"),
        ("LOCALHOST.", "127.0.0.1"),
        ("api.localhost", "127.0.0.1"),
        ("ip6-localhost", "::1"),
        ("metadata.google.internal", "169.254.169.254"),
        ("2130706433", "127.0.0.1"),  # decimal
        ("0177.0.0.1", "127.0.0.1"),  # octal
        ("0x7f.1", "127.0.0.1"),  # hexadecimal, short form
        ("127.1", "127.0.0.1"),
        ("::ffff:127.0.0.1", "::ffff:127.0.0.1"),
        ("deploy.example.com", None),
        ("10.example.com", None),
    ],
)
def test_a_host_names_an_address_without_dns_when_it_is_a_literal(host, address):
    found = egress.literal_address(host)
    assert (str(found) if found else None) == (
        str(ipaddress.ip_address(address)) if address else None
    )


# Save time


@pytest.mark.parametrize(
    ("url", "rule"),
    [
        ("http://localhost:9090", "a loopback address"),
        ("http://127.0.0.1:5000/api", "a loopback address"),
        ("http://[::1]:9090", "a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("https://10.0.0.5/", "a private address"),
        ("https://192.168.0.10:8443/", "a private address"),
        ("https://100.64.1.1/", "a shared (carrier-grade NAT) address"),
        ("http://0.0.0.0:8080/", "the unspecified address"),
        ("http://[::ffff:127.0.0.1]/", "a loopback address carried in IPv6"),
        ("http://2130706433/", "a loopback address"),
        ("http://0177.0.0.1/", "a loopback address"),
    ],
)
def test_a_url_failsafe_calls_is_refused_on_an_internal_host(nothing_allowed, url, rule):
    with pytest.raises(ValidationError) as raised:
        validate_web_url(url)
    (message,) = raised.value.messages
    assert rule in message
    assert message.endswith(
        "; Failsafe refuses internal addresses unless the operator allows their network in "
        "BACKEND_ALLOWED_NETWORKS."
    )


def test_a_public_name_passes_at_save_time(nothing_allowed):
    validate_web_url("https://prometheus.example.com/")
    validate_web_url("https://93.184.216.34:9090/")


def test_an_allowed_network_passes_at_save_time(settings):
    settings.BACKEND_ALLOWED_NETWORKS = egress.parse_networks("10.0.0.0/8")
    validate_web_url("https://10.0.0.5/")
    with pytest.raises(ValidationError, match="loopback"):
        validate_web_url("http://localhost/")


def test_backend_config_names_the_key_and_the_rule(nothing_allowed):
    with pytest.raises(ValidationError) as raised:
        validate_backend_config({"url": "https://deploy.example.com/",
                                 "status_url": "http://169.254.169.254/"})  # fmt: skip
    (message,) = raised.value.messages
    assert message.startswith("status_url: 169.254.169.254 points at a link-local address")
    assert "BACKEND_ALLOWED_NETWORKS" in message


def test_evidence_links_may_point_at_internal_dashboards(nothing_allowed):
    from governance.validators import validate_evidence_uri

    # Shown to people, never called by Failsafe: the policy does not apply.
    validate_evidence_uri("http://grafana.internal.example/d/1")
    validate_evidence_uri("http://10.0.0.7:3000/d/1")


@pytest.mark.django_db
def test_saving_an_environment_on_an_internal_address_is_refused_and_changes_nothing(
    nothing_allowed, fraud, owner
):
    with pytest.raises(ValidationError) as raised:
        services.create_environment(
            actor=owner, system=fraud, name="Production", backend_type=BackendType.WEBHOOK,
            backend_config={"url": "http://127.0.0.1:8080/deploy"},
            prometheus_url="http://169.254.169.254/",
        )  # fmt: skip
    assert "loopback address" in raised.value.message_dict["backend_config"][0]
    assert not fraud.environments.exists()
    with pytest.raises(ValidationError) as raised:
        services.create_environment(
            actor=owner, system=fraud, name="Production", prometheus_url="http://169.254.169.254/"
        )
    assert "link-local address" in raised.value.message_dict["prometheus_url"][0]
    assert not fraud.environments.exists()


# Connect time: what a name resolves to then


def test_every_resolved_address_is_judged(nothing_allowed, monkeypatch):
    answers = [("93.184.216.34",), ("10.0.0.8",)]
    monkeypatch.setattr(egress, "resolve", lambda host, port, **kw: [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port)) for (ip,) in answers
    ])  # fmt: skip
    with pytest.raises(egress.EgressRefused) as raised:
        egress.allowed_addresses("mixed.example.com", 443)
    assert str(raised.value).startswith(
        "mixed.example.com (10.0.0.8) points at a private address; Failsafe refuses"
    )
    answers.pop()
    assert egress.allowed_addresses("mixed.example.com", 443) == ["93.184.216.34"]
