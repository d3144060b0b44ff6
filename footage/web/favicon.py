"""Footage's icon: in every page's head (a data: address, so no request can fail) and at
/favicon.ico for clients that ask there anyway."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter
from fastapi.responses import Response

# The play mark of the header on the buttons' indigo.
FAVICON_SVG = (
    "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>"
    "<rect width='32' height='32' rx='7' fill='#4f46e5'/>"
    "<path d='M12 9l11 7-11 7z' fill='#fff'/></svg>"
)
FAVICON_URL = "data:image/svg+xml," + quote(FAVICON_SVG, safe=" '=/:")

router = APIRouter(include_in_schema=False)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(
        FAVICON_SVG,
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )
