"""The web toolkit every page is built with: templates and `render`, who is logged in
(`require_user`, `require_owner`), CSRF, the Content-Security-Policy, Fetch Metadata, errors as
responses and the static assets. It imports no feature: the features plug into it at start-up
(the user lookup, the page context)."""
