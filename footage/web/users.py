"""Who is logged in, as pages need it: `require_user`, `require_owner` and the forms they post.

Logins are the accounts feature's tables, which the toolkit does not import: the app installs
a user lookup at start-up (`install_user_lookup`), and every page asks through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from starlette.datastructures import FormData

from footage.web.csrf import check_csrf

User = dict[str, Any]
UserLookup = Callable[[Request], User | None]
# What an agent is told when they try what only the owner may do.
OWNER_ONLY = (
    "agents can chat with visitors and watch recordings; only the account owner can change "
    "settings or the plan, or erase visitors — ask the owner"
)


class LoginRequired(Exception):
    """No one is logged in. A page sends the browser to the login form, which brings it back
    to `back_to` (default: the page asked for); a script's request gets a bare 401."""

    def __init__(self, back_to: str | None = None, redirect: bool = True) -> None:
        super().__init__("login required")
        self.back_to, self.redirect = back_to, redirect


class OwnerOnly(Exception):
    """A logged-in agent asked for what only the account owner may do (a 403 page)."""

    def __init__(self, user: User) -> None:
        super().__init__("owner only")
        self.user = user


@dataclass(frozen=True)
class PostedForm:
    """A form posted by a logged-in user, its CSRF token checked."""

    user: User
    form: FormData


def install_user_lookup(app: FastAPI, lookup: UserLookup) -> None:
    """Tell the pages how to find the logged-in user of a request (None: nobody)."""
    app.state.user_lookup = lookup


def current_user(request: Request) -> User | None:
    """The logged-in user, or None."""
    lookup: UserLookup = request.app.state.user_lookup
    return lookup(request)


def require_user(request: Request) -> User:
    """The logged-in user; without one, a page goes to /login and comes back."""
    user = current_user(request)
    if user is None:
        raise LoginRequired()
    return user


def require_user_or_401(request: Request) -> User:
    """The logged-in user, for the JSON a page's script fetches: without one, a bare 401."""
    user = current_user(request)
    if user is None:
        raise LoginRequired(redirect=False)
    return user


def require_owner(user: Annotated[User, Depends(require_user)]) -> User:
    """The logged-in user if they own the account; an agent gets the 403 page."""
    if user["role"] != "owner":
        raise OwnerOnly(user)
    return user


async def user_form(request: Request, user: Annotated[User, Depends(require_user)]) -> PostedForm:
    """A form posted by a logged-in user (CSRF checked after the login)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return PostedForm(user, form)


async def owner_form(request: Request, user: Annotated[User, Depends(require_user)]) -> PostedForm:
    """A form an owner posted: the login, then the CSRF token, then the owner's role."""
    posted = await user_form(request, user)
    if user["role"] != "owner":
        raise OwnerOnly(user)
    return posted


PageUser = Annotated[User, Depends(require_user)]
ScriptUser = Annotated[User, Depends(require_user_or_401)]
PageOwner = Annotated[User, Depends(require_owner)]
UserForm = Annotated[PostedForm, Depends(user_form)]
OwnerForm = Annotated[PostedForm, Depends(owner_form)]
