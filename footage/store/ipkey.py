"""IP addresses as sortable text, so that a range (CIDR) is a range of one ordinary index.

`recordings.ip` keeps the address as it came; `recordings.ip_key` holds the same address as
fixed-width hex (`4` + 8 digits for IPv4, `6` + 32 for IPv6), where text order is address
order. A network `203.0.113.0/24` is then `ip_key BETWEEN '4cb007100' AND '4cb0071ff'`, which
SQLite and PostgreSQL both answer from `(site_id, ip_key)` without an extension or a cast
that a stored value could make fail.
"""

from __future__ import annotations

import ipaddress

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def _key(address: Address) -> str:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped  # ::ffff:203.0.113.9 is the IPv4 visitor it names
    if isinstance(address, ipaddress.IPv4Address):
        return f"4{int(address):08x}"
    return f"6{int(address):032x}"


def ip_key(ip: str | None) -> str | None:
    """The sortable key of an address, or None when there is none (or it is not an IP)."""
    if not ip:
        return None
    try:
        return _key(ipaddress.ip_address(ip.strip()))
    except ValueError:
        return None


def ip_range(network: str) -> tuple[str, str]:
    """The first and last key of an address or a CIDR range (host bits ignored).

    Raises ValueError when `network` is neither.
    """
    net = ipaddress.ip_network(network.strip(), strict=False)
    return _key(net.network_address), _key(net.broadcast_address)
