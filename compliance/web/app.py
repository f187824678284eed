"""The review app (review-app.md): Starlette routes over the state store.

Every handler is a plain function (Starlette runs it in its thread pool, where the
store's blocking database calls belong) wrapped by `_page`, which signs the user in from
the session cookie (or the SSO proxy's header), looks the user up in the store anew,
and turns the access rules' refusals into Swedish 403/404 pages. Pages are rendered on
the server from `compliance/data/templates/web/`; forms work without any script.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from ..explain import deadline_sv
from ..privacy import clean_text
from ..resources import ResourceError
from ..state.decisions import DECISION_LABELS, record_decision
from ..state.evidence import finding_evidence
from ..state.errors import DecisionError, StateError, UnknownFinding, UsageError
from ..state.review import finding_history, get_finding
from ..state.schema import DECISIONS
from ..state.store import Store, open_store
from ..state.users import User, get_user, record_sign_in
from ..units import Unit, load_units, unit_label
from . import audit, reports
from .access import Forbidden, NotFound, Viewer
from .limits import AttemptLimit
from .listing import REVIEW_FILTERS, STATUS_FILTERS, ListFilter, finding_list, latest_run
from .passwords import check_password
from .rulebook import RuleBook
from .security import OVERVIEW_CSP, SecurityHeaders, client_address, is_https
from .sessions import COOKIE, LOGIN_COOKIE, Session, Sessions
from .templates import templates, static_dir

_log = logging.getLogger("compliance.web")
DECISION_CHOICES = [(d, DECISION_LABELS[d]) for d in DECISIONS]
MAX_FORM_BYTES = 256 * 1024
_SAFE_NEXT = re.compile(r"^/(?!/)[^\\\s]*$")


@dataclass
class WebConfig:
    """How `compliance serve` was started."""

    state: str
    units_path: Path | None = None
    rules_dir: Path | None = None
    trusted_header: str | None = None       # SSO: the header that names the user
    trusted_proxy: str | None = None        # … accepted only from this address
    session_hours: float = 8.0
    idle_minutes: float = 60.0
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    limit: AttemptLimit = field(default_factory=AttemptLimit)


@dataclass
class Auth:
    viewer: Viewer
    session: Session
    cookie: str | None = None               # a new session's cookie, to set on the response


class ReviewApp:
    """The app's state: the store, the sessions, the rules and the unit register."""

    def __init__(self, config: WebConfig, store: Store | None = None) -> None:
        self.config = config
        self.store = store if store is not None else open_store(config.state)
        self.sessions = Sessions(config.secret, max_age=config.session_hours * 3600,
                                 idle=config.idle_minutes * 60)
        self.rulebook = RuleBook(config.rules_dir)
        units, cooperation = load_units(config.units_path)
        self.units: dict[str, Unit] = units
        self.cooperation = cooperation
        self.templates = templates()

    # --- helpers ---------------------------------------------------------------------------

    def unit_name(self, unit_id: str | None) -> str:
        return unit_label(self.units, unit_id)

    def address(self, request: Request) -> str | None:
        return client_address(request.scope.get("client"), request.headers, self.config.trusted_proxy)

    def https(self, request: Request) -> bool:
        peer = request.client.host if request.client else None
        return is_https(request.url.scheme, peer, request.headers, self.config.trusted_proxy)

    def render(self, request: Request, name: str, status: int = 200, auth: Auth | None = None,
               **context: Any) -> HTMLResponse:
        context.update(request=request, viewer=auth.viewer if auth else None,
                       csrf=_token(auth.session.csrf) if auth else None, unit_name=self.unit_name,
                       sso=self.config.trusted_header is not None)
        html = self.templates.get_template(name).render(context)
        return HTMLResponse(html, status_code=status)

    def error(self, request: Request, status: int, message: str, auth: Auth | None = None) -> HTMLResponse:
        titles = {400: "Felaktig begäran", 403: "Åtkomst nekad", 404: "Sidan finns inte",
                  405: "Metoden stöds inte", 429: "För många försök", 500: "Internt fel",
                  503: "Tjänsten är inte tillgänglig"}
        return self.render(request, "error.html", status, auth, title=titles.get(status, "Fel"),
                           message=message, code=status)

    def set_session_cookie(self, request: Request, response: Response, value: str) -> None:
        response.set_cookie(COOKIE, value, max_age=int(self.config.session_hours * 3600), httponly=True,
                            samesite="lax", secure=self.https(request), path="/")

    # --- signing in ------------------------------------------------------------------------

    def authenticate(self, request: Request) -> Auth | Response:
        """The signed-in user, or the response that sends them to sign in."""
        session = self.sessions.find(request.cookies.get(COOKIE))
        cookie = None
        if self.config.trusted_header:
            outcome = self._from_proxy(request, session)
            if isinstance(outcome, Response):
                return outcome
            session, cookie = outcome
        if session is None:
            if request.method != "GET":
                return self.error(request, 403, "Du är inte inloggad (eller sessionen har gått ut).")
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        user = get_user(self.store, session.user)
        if user is None or user.disabled:
            self.sessions.end(session)
            return self.error(request, 403, "Kontot är avstängt eller finns inte längre.")
        return Auth(Viewer(user), session, cookie)

    def _from_proxy(self, request: Request, session: Session | None) -> tuple[Session, str | None] | Response:
        """SSO: the user the trusted proxy names; accepted only from the proxy's address."""
        peer = request.client.host if request.client else None
        name = request.headers.get(self.config.trusted_header or "")
        if peer != self.config.trusted_proxy or not name:
            return self.error(request, 403, "Logga in via organisationens inloggning (proxyn).")
        name = name.strip()
        if session is not None and session.user == name:
            return session, None
        address = self.address(request)
        user = get_user(self.store, name)
        if user is None or user.disabled:
            record_sign_in(self.store, name, address, False)
            return self.error(request, 403, "Ditt konto finns inte i granskningen eller är avstängt.")
        if session is not None:
            self.sessions.end(session)
        record_sign_in(self.store, name, address, True)
        return self.sessions.start(name, address)

    # --- the routes ------------------------------------------------------------------------

    def routes(self) -> list[Any]:
        page = self._page
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/logout", page(self.logout), methods=["POST"]),
            Route("/", page(self.finding_list), methods=["GET"]),
            Route("/findings/{id}", page(self.finding), methods=["GET"]),
            Route("/findings/{id}/decision", page(self.decide), methods=["POST"]),
            Route("/findings/{id}/draft", page(self.draft), methods=["GET"]),
            Route("/findings/{id}/draft.docx", page(self.draft_docx), methods=["GET"]),
            Route("/units/{unit}.xlsx", page(self.unit_xlsx), methods=["GET"]),
            Route("/units/{unit}.csv", page(self.unit_csv), methods=["GET"]),
            Route("/overview", page(self.overview), methods=["GET"]),
            Route("/audit", page(self.audit_index), methods=["GET"]),
            Route("/audit/cases/{case:path}", page(self.audit_case), methods=["GET"]),
            Route("/admin/users", page(self.users), methods=["GET"]),
            Route("/admin/users", page(self.add_user), methods=["POST"]),
            Route("/admin/users/{name}/disable", page(self.disable_user), methods=["POST"]),
            Route("/admin/users/{name}/password", page(self.set_password), methods=["POST"]),
            Mount("/static", StaticFiles(directory=str(static_dir())), name="static"),
        ]

    def _page(self, handler: Callable[[Request, Auth], Response]) -> Callable[[Request], Response]:
        def endpoint(request: Request) -> Response:
            try:
                auth = self.authenticate(request)
                if isinstance(auth, Response):
                    return auth
                try:
                    response = handler(request, auth)
                except NotFound:
                    response = self.error(request, 404, "Det du söker finns inte, eller så har du inte "
                                                        "åtkomst till det.", auth)
                except Forbidden as exc:
                    response = self.error(request, 403, str(exc), auth)
                if auth.cookie:
                    self.set_session_cookie(request, response, auth.cookie)
                return response
            except StateError as exc:
                return self.error(request, 503, f"Tillståndet kan inte läsas just nu: {exc}")
            except ResourceError as exc:      # a draft template broken since the start
                _log.error("%s", exc)
                return self.error(request, 500, "Utkastets mall kan inte användas; kontakta förvaltningen.")
            except Exception as exc:  # noqa: BLE001 - a fault: a Swedish page with the headers, one log line
                _log.error("internt fel vid %s %s: %s", request.method, clean_text(request.url.path),
                           type(exc).__name__)
                return self.error(request, 500, "Ett internt fel inträffade; försök igen eller kontakta "
                                                "förvaltningen.")
        endpoint.__name__ = handler.__name__
        return endpoint

    # sign-in ----------------------------------------------------------------------------

    def login_form(self, request: Request, message: str | None = None, status: int = 200,
                   username: str = "") -> Response:
        if self.config.trusted_header:
            return self.error(request, 404, "Inloggningen sker via organisationens inloggning.")
        cookie, token = self.sessions.login_token()
        nxt = request.query_params.get("next", "/")
        response = self.render(request, "login.html", status, token=_token(token), message=message,
                               next=nxt if _SAFE_NEXT.match(nxt) else "/", username=username)
        response.set_cookie(LOGIN_COOKIE, cookie, max_age=3600, httponly=True, samesite="lax",
                            secure=self.https(request), path="/login")
        return response

    def login(self, request: Request) -> Response:
        if self.config.trusted_header:
            return self.error(request, 404, "Inloggningen sker via organisationens inloggning.")
        form = _sync_form(request)
        if not self.sessions.login_token_ok(request.cookies.get(LOGIN_COOKIE), form.get("csrf_token")):
            return self.error(request, 403, "Formuläret har gått ut eller kom inte från den här sidan. "
                                            "Ladda om inloggningssidan och försök igen.")
        name = (form.get("username") or "").strip()[:200]
        password = form.get("password") or ""
        address = self.address(request)
        try:
            wait = self.config.limit.blocked(self.store, name, address)
            if wait:
                record_sign_in(self.store, name, address, False)
                minutes = max(1, round(wait / 60))
                response = self.error(request, 429, f"För många misslyckade inloggningar. Försök igen om "
                                                    f"{minutes} {'minut' if minutes == 1 else 'minuter'}.")
                response.headers["Retry-After"] = str(int(wait) + 1)
                return response
            user: User | None = get_user(self.store, name) if name else None
            ok = check_password(user.password_hash if user and not user.disabled else None, password)
            record_sign_in(self.store, name, address, ok)
        except StateError as exc:
            return self.error(request, 503, f"Tillståndet kan inte läsas just nu: {exc}")
        if not ok:
            return self.login_form(request, "Fel användarnamn eller lösenord.", 401, username=name)
        _, cookie = self.sessions.start(name, address)
        nxt = form.get("next") or "/"
        response = RedirectResponse(nxt if _SAFE_NEXT.match(nxt) else "/", status_code=303)
        self.set_session_cookie(request, response, cookie)
        response.delete_cookie(LOGIN_COOKIE, path="/login")
        return response

    def logout(self, request: Request, auth: Auth) -> Response:
        form = _sync_form(request)
        if not self.sessions.csrf_ok(auth.session, form.get("csrf_token")):
            return self.error(request, 403, "Ogiltig eller saknad formulärnyckel (CSRF).", auth)
        self.sessions.end(auth.session)
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # the list ---------------------------------------------------------------------------

    def finding_list(self, request: Request, auth: Auth) -> Response:
        viewer = auth.viewer
        if viewer.manages_users and not viewer.sees_cases:
            return RedirectResponse("/admin/users", status_code=303)
        viewer.require_cases()
        flt = ListFilter.from_query(request.query_params)
        run = latest_run(self.store)
        listing = finding_list(self.store, viewer.units, flt, run.as_of if run else None)
        return self.render(request, "list.html", auth=auth, listing=listing, run=run,
                           review_filters=REVIEW_FILTERS, status_filters=STATUS_FILTERS,
                           qs=lambda **kw: urlencode(listing.filter.query(**kw)))

    # one finding ------------------------------------------------------------------------

    def _visible(self, auth: Auth, finding_id: str):
        auth.viewer.require_cases()
        try:
            item = get_finding(self.store, finding_id)
        except UnknownFinding:
            raise NotFound() from None
        auth.viewer.require_finding(item.finding)
        return item

    def finding(self, request: Request, auth: Auth, status: int = 200, message: str | None = None,
                form: dict[str, str] | None = None) -> Response:
        item = self._visible(auth, request.path_params["id"])
        history = finding_history(self.store, item.id)
        f = item.finding
        version = self.rulebook.version(f["rule"], f.get("rule_version"))
        timeline = finding_evidence(self.store, item.id) if f.get("evidence") else []
        timeline.sort(key=lambda e: (e.get("date") or "", e.get("time") or "", e.get("id") or ""))
        return self.render(request, "finding.html", status, auth, item=item, f=f, history=history,
                           timeline=timeline,
                           arithmetic=deadline_sv(f.get("basis")), version=version,
                           decisions=DECISION_CHOICES, message=message, form=form or {},
                           saved=request.query_params.get("sparat") == "1",
                           has_draft=f.get("status") == "violation" and item.needs_draft)

    def decide(self, request: Request, auth: Auth) -> Response:
        form = _sync_form(request)
        if not self.sessions.csrf_ok(auth.session, form.get("csrf_token")):
            return self.error(request, 403, "Ogiltig eller saknad formulärnyckel (CSRF). Ladda om sidan "
                                            "och försök igen.", auth)
        item = self._visible(auth, request.path_params["id"])
        auth.viewer.require_decide()
        decision = form.get("decision") or ""
        reason = form.get("reason") or None
        reference = form.get("reference") or None
        try:
            record_decision(self.store, item.id, decision, by=auth.viewer.name, reason=reason,
                            reference=reference, source="web", from_address=self.address(request))
        except (UsageError, DecisionError) as exc:
            keep = {"decision": decision, "reason": reason or "", "reference": reference or ""}
            if "personnummer" in str(exc):
                keep["reason"] = keep["reference"] = ""      # never shown again
            return self.finding(request, auth, status=400, message=_form_message(str(exc)), form=keep)
        return RedirectResponse(f"/findings/{item.id}?sparat=1#beslut", status_code=303)

    # downloads --------------------------------------------------------------------------

    def _draft(self, request: Request, auth: Auth) -> reports.Draft:
        item = self._visible(auth, request.path_params["id"])
        draft = reports.draft_for(self.store, self.rulebook, item.finding, self.units, self.cooperation)
        if draft is None:
            raise NotFound()
        return draft

    def draft(self, request: Request, auth: Auth) -> Response:
        draft = self._draft(request, auth)
        return self.render(request, "draft.html", auth=auth, text=reports.draft_markdown(draft),
                           finding_id=request.path_params["id"], case=draft.context["case"])

    def draft_docx(self, request: Request, auth: Auth) -> Response:
        return _download(reports.draft_docx(self._draft(request, auth), self.unit_name))

    def _unit_list(self, request: Request, auth: Auth, fmt: str) -> Response:
        auth.viewer.require_cases()
        unit = request.path_params["unit"]
        auth.viewer.require_unit(unit)
        got = reports.unit_list(self.store, self.rulebook, unit, self.units, fmt)
        if got is None:
            raise NotFound()
        return _download(got)

    def unit_xlsx(self, request: Request, auth: Auth) -> Response:
        return self._unit_list(request, auth, "xlsx")

    def unit_csv(self, request: Request, auth: Auth) -> Response:
        return self._unit_list(request, auth, "csv")

    def overview(self, request: Request, auth: Auth) -> Response:
        auth.viewer.require_overview()
        html = reports.overview_html(self.store, self.rulebook, self.units)
        return HTMLResponse(html, headers={"Content-Security-Policy": OVERVIEW_CSP})

    # audit ------------------------------------------------------------------------------

    def audit_index(self, request: Request, auth: Auth) -> Response:
        auth.viewer.require_audit_trail()
        case = (request.query_params.get("arende") or "").strip()
        if case:
            from urllib.parse import quote
            return RedirectResponse(f"/audit/cases/{quote(case, safe='')}", status_code=303)
        return self.render(request, "audit.html", auth=auth, trail=audit.trail(self.store))

    def audit_case(self, request: Request, auth: Auth) -> Response:
        auth.viewer.require_cases()
        case = request.path_params["case"]
        as_of = _day(request.query_params.get("per"))
        account = audit.case_account(self.store, case, auth.viewer.units, as_of)
        if account is None:
            raise NotFound()
        return self.render(request, "case.html", auth=auth, account=account, as_of=as_of,
                           per=request.query_params.get("per", ""))

    # users ------------------------------------------------------------------------------

    def users(self, request: Request, auth: Auth, message: str | None = None, status: int = 200) -> Response:
        auth.viewer.require_admin()
        from ..state.users import ROLE_LABELS, list_users
        return self.render(request, "users.html", status, auth, users=list_users(self.store),
                           roles=ROLE_LABELS, message=message, done=request.query_params.get("klart"))

    def _admin_form(self, request: Request, auth: Auth) -> dict[str, str]:
        form = _sync_form(request)
        if not self.sessions.csrf_ok(auth.session, form.get("csrf_token")):
            raise Forbidden("Ogiltig eller saknad formulärnyckel (CSRF).")
        auth.viewer.require_admin()
        return form

    def add_user(self, request: Request, auth: Auth) -> Response:
        from ..state.users import UserError, add_user
        from .passwords import WeakPassword, hash_password
        form = self._admin_form(request, auth)
        units = [u for u in re.split(r"[,\s]+", form.get("units") or "") if u]
        try:
            password = form.get("password") or ""
            add_user(self.store, form.get("name") or "", form.get("role") or "", units,
                     password_hash=hash_password(password) if password else None)
        except (UserError, WeakPassword) as exc:
            return self.users(request, auth, message=_form_message(str(exc)), status=400)
        return RedirectResponse("/admin/users?klart=tillagd", status_code=303)

    def disable_user(self, request: Request, auth: Auth) -> Response:
        from ..state.users import UserError, disable_user
        self._admin_form(request, auth)
        name = request.path_params["name"]
        try:
            disable_user(self.store, name)
        except UserError:
            raise NotFound() from None
        self.sessions.end_user(name)
        return RedirectResponse("/admin/users?klart=avstangd", status_code=303)

    def set_password(self, request: Request, auth: Auth) -> Response:
        from ..state.users import UserError, set_password_hash
        from .passwords import WeakPassword, hash_password
        form = self._admin_form(request, auth)
        try:
            set_password_hash(self.store, request.path_params["name"], hash_password(form.get("password") or ""))
        except UserError:
            raise NotFound() from None
        except WeakPassword as exc:
            return self.users(request, auth, message=_form_message(str(exc)), status=400)
        return RedirectResponse("/admin/users?klart=losenord", status_code=303)


def _token(value: str) -> Markup:
    """A token for a form, escaped and exempt from the pages' personal-number redaction
    (a random token may hold ten digits in a row; it must reach the form as it is)."""
    return Markup(escape(value))


def _form_message(text: str) -> str:
    """A store's one-line error as a sentence for a form (the command-line hints dropped)."""
    text = re.sub(r"\s*\(--\w+\)", "", text)
    text = re.sub(r"^[^:]*: (ingen brist)", r"\1", text)
    return text[0].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _day(value: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _download(got: reports.Download) -> Response:
    from urllib.parse import quote
    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", got.filename)
    disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(got.filename)}"
    return Response(got.body, media_type=got.media_type, headers={"Content-Disposition": disposition})


def _sync_form(request: Request) -> dict[str, str]:
    """The posted form, read by the async wrapper before the handler ran (see `create_app`)."""
    return request.state.form if hasattr(request.state, "form") else {}


class _ReadForm:
    """ASGI middleware: a posted form is read (asynchronously) before the sync handler
    runs in the thread pool, and handed to it on `request.state.form`."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            body, too_big = b"", False
            async for chunk in Request(scope, receive).stream():
                body += chunk
                if len(body) > MAX_FORM_BYTES:       # a form is a few kB; stop reading
                    body, too_big = b"", True
                    break
            values: dict[str, str] = {}
            if not too_big:
                try:
                    form = await Request(scope, _replay(body)).form(max_files=0, max_fields=50)
                    values = {k: v for k, v in form.items() if isinstance(v, str)}
                except Exception:  # noqa: BLE001 - a malformed body is an empty form (then 403: no token)
                    values = {}
            scope.setdefault("state", {})["form"] = values
            receive = _replay(body)
        await self.app(scope, receive, send)


def _replay(body: bytes):
    sent = False

    async def receive():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}
    return receive


def create_app(config: WebConfig, store: Store | None = None) -> Starlette:
    """The ASGI app. `store`: an open store to use (tests); else `config.state` is opened."""
    review = ReviewApp(config, store)

    async def not_found(request: Request, exc: HTTPException) -> Response:
        messages = {404: "Sidan finns inte.", 405: "Det går inte att göra så här på den här sidan."}
        return review.error(request, exc.status_code, messages.get(exc.status_code, str(exc.detail)))

    @asynccontextmanager
    async def lifespan(app: Starlette):
        yield
        review.store.close()

    app = Starlette(routes=review.routes(), exception_handlers={HTTPException: not_found}, lifespan=lifespan)
    app.add_middleware(_ReadForm)
    app.add_middleware(SecurityHeaders)
    app.state.review = review
    return app
