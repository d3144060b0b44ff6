"""Country of an IP address, from a local database (never a network service)."""

from __future__ import annotations

import ipaddress
import logging
from functools import lru_cache

log = logging.getLogger(__name__)


class CountryLookup:
    """ISO country code for an IP, or None when unknown (private addresses, no database).

    Uses an operator-supplied MaxMind-format file when one is configured, else the database
    bundled with the geoip2fast package.
    """

    def __init__(self, mmdb_path: str = "") -> None:
        self._mmdb = None
        self._fast = None
        if mmdb_path:
            import maxminddb

            self._mmdb = maxminddb.open_database(mmdb_path)
        else:
            try:
                from geoip2fast import GeoIP2Fast

                self._fast = GeoIP2Fast(verbose=False)
            except Exception:  # noqa: BLE001 — a missing database must not stop ingest
                log.warning("no country database could be loaded; countries stay unknown")
        self.country = lru_cache(maxsize=65536)(self._country)

    def _country(self, ip: str | None) -> str | None:
        if not ip:
            return None
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return None
        if not addr.is_global:
            return None
        if self._mmdb is not None:
            record = self._mmdb.get(ip) or {}
            code = (record.get("country") or {}).get("iso_code")  # type: ignore[union-attr]
            return str(code) if code else None
        if self._fast is not None:
            code = self._fast.lookup(ip).country_code
            return code if code and len(code) == 2 and code != "--" else None
        return None
