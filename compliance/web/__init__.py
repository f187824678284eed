"""The review app (review-app.md): `compliance serve` — unit heads sign in, see their
units' findings and record decisions in a browser; coordinators and auditors read.

One module per concept: app (routes and handlers), access (who sees what), sessions
(cookies and CSRF tokens), passwords (argon2), limits (the sign-in attempt limit),
security (headers, where a request comes from), listing ("Mina avvikelser"), audit (a
case's history, the sign-in and decision trail), reports (the downloads, made by
`compliance.reporting` from the store), rulebook (rule titles and cited sources),
templates (Jinja), server (uvicorn, SIGTERM), cli (`compliance serve`, `compliance users`).
Starlette, uvicorn and argon2 are imported only by these modules.
"""
