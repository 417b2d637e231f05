"""Which addresses Failsafe may call when a system owner chose the URL.

A system owner configures URLs that the server then calls (deployment backends, MLflow,
Prometheus): pointed at the server's own network, such a URL would make Failsafe reach what
only it can reach (cloud metadata at 169.254.169.254, an admin port on loopback, a database
in 10/8). Every address that is not public is refused: loopback, link-local, private
(RFC 1918, fc00::/7), shared (100.64/10, carrier-grade NAT), unspecified, multicast,
reserved, site-local, and an IPv4 address carried inside IPv6 (::ffff:a.b.c.d, 6to4,
Teredo, NAT64) is judged as the IPv4 address it carries. The operator lifts the refusal for
networks listed in BACKEND_ALLOWED_NETWORKS.

Two checks use this policy: the fields' validators at save time (`host_refusal`: an IP
literal, however spelt, or a name that always means this machine), and the HTTP client at
connect time (`allowed_addresses`: every address the name resolves to then, so a name that
answered a public address yesterday and answers 127.0.0.1 now is refused).

Imports nothing from Django at import time (the HTTP client's module builds on it).
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

IPAddress: TypeAlias = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork: TypeAlias = ipaddress.IPv4Network | ipaddress.IPv6Network

SETTING = "BACKEND_ALLOWED_NETWORKS"
# The allowlist of the demo (`make run`), the benchmarks and the test suite: their peers
# (webhook receivers, MLflow, Prometheus, Slack's stand-in) listen on this machine.
LOOPBACK_NETWORKS = "127.0.0.0/8,::1/128"

# Resolves a name as the connection will; a test substitutes its own to play a rebinding DNS.
resolve: Callable[..., list[tuple[Any, ...]]] = socket.getaddrinfo

_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT: not private to Python
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
# Names that mean this machine (RFC 6761 and the usual /etc/hosts spellings), and the cloud
# metadata name; each stands for the address it always resolves to.
_LOCAL_NAMES = {
    "localhost": ipaddress.ip_address("127.0.0.1"),
    "localhost.localdomain": ipaddress.ip_address("127.0.0.1"),
    "ip6-localhost": ipaddress.ip_address("::1"),
    "ip6-loopback": ipaddress.ip_address("::1"),
    "metadata.google.internal": ipaddress.ip_address("169.254.169.254"),
}
# The spellings of IPv4 that inet_aton (and so getaddrinfo) accepts: 2130706433, 0x7f.1,
# 017700000001, 127.1.
_NUMERIC_IPV4 = re.compile(r"(0x[0-9a-f]*|[0-9]+)(\.(0x[0-9a-f]*|[0-9]+)){0,3}", re.IGNORECASE)


class EgressRefused(Exception):
    """A call to an address the policy refuses. Never transient: no retry changes it."""

    def __init__(self, host: str, address: str, rule: str) -> None:
        self.host, self.address, self.rule = host, address, rule
        shown = host if host == address else f"{host} ({address})"
        super().__init__(f"{shown} {explanation(rule)}")


def explanation(rule: str) -> str:
    """The end of a refusal's message: what the address is and what the operator can do."""
    return (
        f"points at {rule}; Failsafe refuses internal addresses unless the operator allows "
        f"their network in {SETTING}"
    )


def parse_networks(text: str) -> tuple[IPNetwork, ...]:
    """`10.0.0.0/8, ::1/128` as networks; ValueError naming the entry that is not one (a
    network with host bits set, 10.0.0.1/8, is refused: it is probably a typo)."""
    networks = []
    for entry in (part.strip() for part in text.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=True))
        except ValueError as error:
            raise ValueError(f"{entry!r} is not a network in CIDR notation ({error})") from None
    return tuple(networks)


def allowed_networks() -> tuple[IPNetwork, ...]:
    """The operator's allowlist; none outside Django (a receiver script: nothing allowed)."""
    from django.conf import settings

    if not settings.configured:
        return ()
    value = getattr(settings, SETTING, ())
    return parse_networks(value) if isinstance(value, str) else tuple(value)


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries, where routing would reach it."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]  # the client's address; the server's is a relay
    if any(address in network for network in _NAT64):
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def rule_broken(address: IPAddress) -> str | None:
    """What kind of internal address this is ("a loopback address"), or None if public."""
    carried = _embedded_ipv4(address)
    if carried is not None:
        inner = rule_broken(carried)
        if inner is not None:
            return f"{inner} carried in IPv6"
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (such as cloud metadata)"
    if address.is_unspecified:
        return "the unspecified address"
    if address.is_multicast:
        return "a multicast address"
    if address in _SHARED:
        return "a shared (carrier-grade NAT) address"
    if isinstance(address, ipaddress.IPv6Address) and address.is_site_local:
        return "a site-local address"
    if address.is_reserved:
        return "a reserved address"
    if address.is_private:
        return "a private address"
    if not address.is_global:
        return "a reserved address"  # e.g. 192.0.0.0/24, kept for protocol assignments
    return None


def refusal(address: IPAddress, allowed: Iterable[IPNetwork] | None = None) -> str | None:
    """The rule an address breaks, or None when it is public or the operator allows it."""
    rule = rule_broken(address)
    if rule is None:
        return None
    networks = tuple(allowed_networks() if allowed is None else allowed)
    carried = _embedded_ipv4(address)
    for candidate in (address, carried):
        if candidate is not None and any(
            candidate.version == network.version and candidate in network for network in networks
        ):
            return None
    return rule


def literal_address(host: str) -> IPAddress | None:
    """The address a URL's host names without asking DNS: an IP literal in any spelling
    getaddrinfo accepts, or a name that always means this machine; None for other names."""
    name = host.strip().rstrip(".").lower()
    if name in _LOCAL_NAMES:
        return _LOCAL_NAMES[name]
    if name.endswith(".localhost"):
        return _LOCAL_NAMES["localhost"]
    try:
        return ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        pass
    if _NUMERIC_IPV4.fullmatch(name):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            return None
    return None


def host_refusal(host: str) -> str | None:
    """The save-time check: the rule a URL's host breaks when it is an IP literal or a local
    name, or None (other names are judged when connecting: what they resolve to may change)."""
    address = literal_address(host)
    return None if address is None else refusal(address)


def allowed_addresses(host: str, port: int) -> list[str]:
    """The addresses to connect to for host:port, every one of them allowed, in the
    resolver's order. Raises EgressRefused if any is refused (a name that answers one
    internal address is not trusted with the others), socket.gaierror if none resolve."""
    networks = allowed_networks()
    addresses: list[str] = []
    for *_, sockaddr in resolve(host, port, type=socket.SOCK_STREAM):
        text = str(sockaddr[0])
        address = ipaddress.ip_address(text.split("%", 1)[0])
        rule = refusal(address, networks)
        if rule is not None:
            raise EgressRefused(host, text, rule)
        if text not in addresses:
            addresses.append(text)
    return addresses
