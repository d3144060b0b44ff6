"""The demo shop: a product list with search, product pages and a checkout form."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from footage.accounts.service import demo_site
from footage.errors import NotFound

router = APIRouter(prefix="/demo", include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).resolve().parent / "templates")

PRODUCTS = [
    {
        "slug": "trail-shoes",
        "name": "Trail running shoes",
        "price": 129,
        "colour": "#f97316",
        "text": "Grippy soles and a breathable upper for muddy mornings.",
    },
    {
        "slug": "rain-jacket",
        "name": "Packable rain jacket",
        "price": 89,
        "colour": "#0ea5e9",
        "text": "Folds into its own pocket. Taped seams, 210 g.",
    },
    {
        "slug": "wool-socks",
        "name": "Merino wool socks",
        "price": 19,
        "colour": "#84cc16",
        "text": "Warm when wet, never itchy. Three pairs.",
    },
    {
        "slug": "head-torch",
        "name": "Rechargeable head torch",
        "price": 45,
        "colour": "#eab308",
        "text": "400 lumens, USB-C, eight hours on medium.",
    },
    {
        "slug": "water-bottle",
        "name": "Insulated water bottle",
        "price": 29,
        "colour": "#14b8a6",
        "text": "Keeps drinks cold for 24 hours, hot for 12.",
    },
    {
        "slug": "day-pack",
        "name": "20 L day pack",
        "price": 75,
        "colour": "#8b5cf6",
        "text": "Hip belt, rain cover and a pocket for your phone.",
    },
]


def page(request: Request, name: str, **ctx: object) -> Response:
    svc = request.app.state.services
    site = demo_site(svc.db)
    if site is None:
        raise NotFound("the demo is not set up on this server (it runs with --demo)")
    base = f"{request.url.scheme}://{request.headers.get('host', '')}"
    return templates.TemplateResponse(
        request, name, {"site_key": site["site_key"], "host": base, "products": PRODUCTS, **ctx}
    )


@router.get("/")
def shop(request: Request) -> Response:
    return page(request, "shop.html", title="Outdoor gear")


@router.get("/product/{slug}")
def product(request: Request, slug: str) -> Response:
    found = next((p for p in PRODUCTS if p["slug"] == slug), None)
    if found is None:
        raise NotFound("no such product in the demo shop")
    return page(request, "product.html", title=found["name"], product=found)


@router.get("/checkout")
def checkout(request: Request) -> Response:
    return page(request, "checkout.html", title="Checkout")


@router.post("/checkout")
def checkout_submit() -> Response:
    # Posted, then redirected: typed details never end up in a page address.
    return RedirectResponse("/demo/thanks", status_code=303)


@router.get("/signup")
def signup(request: Request) -> Response:
    return page(request, "signup.html", title="Create your account")


@router.post("/signup")
def signup_submit() -> Response:
    return RedirectResponse("/demo/thanks", status_code=303)


@router.get("/thanks")
def thanks(request: Request) -> Response:
    return page(request, "thanks.html", title="Thank you")
