"""Source-network allowlists for inbound webhooks (CIDR notation).

>>> networks = parse_networks("10.0.0.0/8, 192.0.2.7\\n2001:db8::/32")
>>> [str(n) for n in networks]
['10.0.0.0/8', '192.0.2.7/32', '2001:db8::/32']
>>> address_allowed("10.20.30.40", networks)
True
>>> address_allowed("192.0.2.8", networks)
False
>>> address_allowed("2001:db8::1", networks)
True
>>> address_allowed("not an address", networks)
False
>>> address_allowed("203.0.113.5", ())
True
>>> parse_networks("10.0.0.0/33")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: entry 1 '10.0.0.0/33' is not an IP network (CIDR): ...
"""

import ipaddress
import re

_SEPARATORS = re.compile(r"[\s,;]+")


def parse_networks(text):
    """The networks of an allowlist written one per line or comma-separated
    (a bare address is a /32 or /128); raises ValueError naming the entry."""
    networks = []
    for number, entry in enumerate(_SEPARATORS.split(text or ""), 1):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as err:
            raise ValueError(
                f"entry {number} {entry!r} is not an IP network (CIDR): {err}"
            ) from None
    return tuple(networks)


def address_allowed(address, networks):
    """Whether ``address`` lies in one of ``networks``; an empty allowlist
    allows every address, an unreadable address none."""
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip.version == net.version and ip in net for net in networks)
