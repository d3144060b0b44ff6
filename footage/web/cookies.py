"""The cookies of Footage's pages: the login and the CSRF token, and when they are `Secure`."""

from __future__ import annotations

from footage.settings import Settings

SESSION_COOKIE = "footage_session"
CSRF_COOKIE = "footage_csrf"


def secure_cookies(settings: Settings) -> bool:
    """Cookies are `Secure` when asked for, or when the dashboard's public URL is https."""
    return bool(settings.secure_cookies) or settings.public_url.lower().startswith("https://")
