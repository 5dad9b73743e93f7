"""The local episode viewer: a small FastAPI app serving JSON about the stored sessions,
their episodes and steps, the keyframes as images, and one static page (no build step,
nothing fetched from elsewhere) that steps through them.

Screenshots are sensitive, so the viewer listens on the loopback interface only and every
request must carry the random token printed with the URL: ``?token=`` (the page passes it
on with every request) or the cookie set when a request with a valid ``?token=`` arrives
(so a reload without the query string still works). Anything else gets 403.

Episodes and steps come from :func:`workprint.export.common.session_trajectories` - the
viewer shows exactly what an export would contain - plus, for local viewing only, the app
and window title that were active at each step and the approach path of mouse actions.
"""

from __future__ import annotations

import hashlib
import html
import re
import secrets
import socket
import sqlite3
import threading
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from ..errors import StoreError
from ..events import FocusEvent
from ..export.common import ExportError, ImageEncoder, Trajectory, session_trajectories, status_of
from ..store.session import DataDir, Session

STATIC = Path(__file__).parent / "static"
HOST = "127.0.0.1"
_FRAME_ID = re.compile(r"^[0-9a-f]{8,64}$")
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; "
                               "base-uri 'none'; form-action 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def new_token() -> str:
    return secrets.token_urlsafe(24)


def cookie_name(token: str) -> str:
    """Per-token cookie name: cookies ignore ports, so two viewers on one machine would
    otherwise overwrite each other's cookie."""
    return "wpview_" + hashlib.sha256(token.encode()).hexdigest()[:10]


def step_label(kind: str, s: dict[str, Any]) -> str:
    """A short human label for one step (what the overlay caption shows)."""
    if kind == "write":
        return s.get("text", "")
    if kind in ("press", "hotkey"):
        return "+".join(s.get("keys", []))
    if kind in ("scroll", "hscroll"):
        n = s.get("dy") if kind == "scroll" else s.get("dx")
        return f"{kind} {n:+d}"
    if kind == "wait":
        return f"wait ({s['gap']})" if s.get("gap") else "wait"
    if kind == "end":
        return f"end: {s.get('status', 'unknown')}"
    mods = "+".join(s.get("keys", []))
    return f"{mods}+{kind}" if mods else kind


class _Focus:
    """The active app/title at any time of a session, from its raw focus events."""

    def __init__(self, session: Session):
        self.times: list[int] = []
        self.values: list[tuple[str, str]] = []
        for e in session.events(kinds=["focus"]):
            assert isinstance(e, FocusEvent)
            self.times.append(e.t_ns)
            self.values.append((e.app_id, e.title) if e.window else ("", ""))

    def at(self, t_ns: int) -> tuple[str, str]:
        i = bisect_right(self.times, t_ns) - 1
        return self.values[i] if i >= 0 else ("", "")


class Viewer:
    """Reads the data dir on demand; caches reduced sessions while their files are unchanged."""

    def __init__(self, data_dir: Path, image_format: str = "jpeg"):
        self.data_dir = Path(data_dir)
        self.store = DataDir(self.data_dir)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, tuple[tuple, list[dict[str, Any]]]] = OrderedDict()
        self._encoder = ImageEncoder(image_format, cache=32)
        self._enc_lock = threading.Lock()

    # -- sessions --------------------------------------------------------------------
    def open(self, sid: str) -> Session:
        """Exact ids only (no prefixes, no path tricks)."""
        if sid not in self.store.session_ids():
            raise HTTPException(404, f"no session {sid!r}")
        return Session(self.store.sessions_dir / sid)

    def _decisions(self) -> dict[str, str]:
        from ..sync.review import REVIEW_DB

        db = self.data_dir / REVIEW_DB
        if not db.exists():
            return {}
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            return dict(conn.execute("SELECT session_id, decision FROM decisions"))
        except sqlite3.Error:
            return {}
        finally:
            conn.close()

    def sessions(self) -> list[dict[str, Any]]:
        decisions = self._decisions()
        out = []
        for sid in self.store.session_ids():
            try:
                with Session(self.store.sessions_dir / sid) as s:
                    d = asdict(s.summary())
            except StoreError as exc:
                out.append({"id": sid, "error": str(exc), "review": decisions.get(sid)})
                continue
            d.pop("path", None)
            d["review"] = decisions.get(sid)
            out.append(d)
        return out

    def decide(self, sid: str, decision: str) -> dict[str, Any]:
        from ..sync.review import Review

        self.open(sid).close()
        rv = Review(self.data_dir)
        try:
            rv.decide(sid, decision)
        finally:
            rv.close()
        return {"id": sid, "review": decision}

    # -- episodes --------------------------------------------------------------------
    def _stamp(self, sid: str) -> tuple:
        folder = self.store.sessions_dir / sid
        return tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                     for p in sorted(folder.iterdir()) if p.name.startswith("session.db"))

    def episodes(self, sid: str) -> list[dict[str, Any]]:
        session = self.open(sid)
        try:
            stamp = self._stamp(sid)
            with self._lock:
                hit = self._cache.get(sid)
                if hit is not None and hit[0] == stamp:
                    self._cache.move_to_end(sid)
                    return hit[1]
            try:
                trajs = session_trajectories(session)
            except ExportError as exc:
                raise HTTPException(422, str(exc)) from exc
            focus = _Focus(session)
            eps = [self._episode(n, t, focus) for n, t in enumerate(trajs)]
        finally:
            session.close()
        with self._lock:
            self._cache[sid] = (stamp, eps)
            while len(self._cache) > 8:
                self._cache.popitem(last=False)
        return eps

    @staticmethod
    def _episode(n: int, traj: Trajectory, focus: _Focus) -> dict[str, Any]:
        t0 = traj.steps[0].action.t_start if traj.steps else 0
        steps = []
        for st in traj.steps:
            a = st.action
            app, title = focus.at(a.t_start)
            f = st.frame
            steps.append({
                "index": st.index,
                "kind": a.kind,
                "label": step_label(a.kind, st.structured),
                "code": st.code,
                "action": st.structured,
                "path": [list(p) for p in a.path],
                "t_rel_s": st.t_rel_s,
                "t_ms": round((a.t_start - t0) / 1e6),   # since the first step (local only)
                "duration_ms": round((a.t_end - a.t_start) / 1e6),
                "frame": {"id": f.frame_id, "width": f.width, "height": f.height,
                          "reason": f.reason} if f is not None else None,
                "app": app,
                "title": title,
            })
        return {
            "index": n,
            "task_id": traj.task_id,
            "instruction": traj.instruction,
            "unlabelled": traj.unlabelled,
            "status": status_of(traj.ok),
            "screen": {"width": traj.screen.width, "height": traj.screen.height,
                       "scale": traj.screen.scale},
            "steps": steps,
        }

    def episode(self, sid: str, n: int) -> dict[str, Any]:
        eps = self.episodes(sid)
        if not 0 <= n < len(eps):
            raise HTTPException(404, f"session {sid} has no episode {n}")
        return eps[n]

    # -- images ----------------------------------------------------------------------
    def frame(self, sid: str, frame_id: str, fmt: str) -> bytes:
        if not _FRAME_ID.match(frame_id):
            raise HTTPException(404, "bad frame id")
        session = self.open(sid)
        try:
            img = session.frame_image(frame_id)
        except StoreError as exc:
            raise HTTPException(404, str(exc)) from exc
        finally:
            session.close()
        if fmt == self._encoder.fmt:
            enc = self._encoder
        else:
            enc = ImageEncoder(fmt)
        with self._enc_lock:
            return enc.encode_image(img)


def create_app(data_dir: Path, token: str, image_format: str = "jpeg") -> FastAPI:
    """The viewer app for ``data_dir``; every request must present ``token``."""
    if not token:
        raise ValueError("a token is required")
    viewer = Viewer(data_dir, image_format)
    app = FastAPI(title="workprint viewer", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.viewer = viewer
    cname = cookie_name(token)

    @app.middleware("http")
    async def require_token(request: Request, call_next):
        given = request.query_params.get("token")
        from_query = given is not None
        if given is None:
            given = request.headers.get("x-workprint-token") or request.cookies.get(cname)
        if not given or not secrets.compare_digest(given.encode(), token.encode()):
            resp: Response = JSONResponse({"error": "forbidden: open the URL with its token"},
                                          status_code=403)
        else:
            resp = await call_next(request)
            if from_query and request.cookies.get(cname) != token:
                resp.set_cookie(cname, token, httponly=True, samesite="strict", path="/")
        for k, v in _SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        return resp

    page = (STATIC / "index.html").read_text(encoding="utf-8").replace(
        "__TOKEN__", html.escape(quote(token, safe=""), quote=True))

    @app.get("/")
    def index():
        return Response(page, media_type="text/html; charset=utf-8")

    @app.get("/static/{name}")
    def static(name: str):
        files = {"viewer.js": "text/javascript; charset=utf-8", "viewer.css": "text/css; charset=utf-8"}
        if name not in files:
            raise HTTPException(404)
        return FileResponse(STATIC / name, media_type=files[name])

    @app.get("/api/sessions")
    def sessions():
        return viewer.sessions()

    @app.post("/api/sessions/{sid}/review")
    async def review(sid: str, request: Request):
        try:
            body = await request.json()
        except ValueError:
            raise HTTPException(400, "expected JSON") from None
        decision = body.get("decision") if isinstance(body, dict) else None
        if decision not in ("approved", "withheld"):
            raise HTTPException(400, "decision must be 'approved' or 'withheld'")
        from starlette.concurrency import run_in_threadpool
        return await run_in_threadpool(viewer.decide, sid, decision)

    @app.get("/api/sessions/{sid}/episodes")
    def episodes(sid: str):
        return [{k: v for k, v in ep.items() if k != "steps"} | {"n_steps": len(ep["steps"])}
                for ep in viewer.episodes(sid)]

    @app.get("/api/sessions/{sid}/episodes/{n}")
    def episode(sid: str, n: int):
        return viewer.episode(sid, n)

    @app.get("/api/sessions/{sid}/episodes/{n}/steps")
    def steps(sid: str, n: int):
        return viewer.episode(sid, n)["steps"]

    @app.get("/api/sessions/{sid}/frames/{name}")
    def frame(sid: str, name: str):
        stem, _, ext = name.rpartition(".")
        fmt = {"jpg": "jpeg", "jpeg": "jpeg", "png": "png"}.get(ext)
        if fmt is None:
            raise HTTPException(404, "use .png or .jpg")
        data = viewer.frame(sid, stem, fmt)
        return Response(data, media_type=f"image/{fmt}",
                        headers={"Cache-Control": "private, max-age=3600"})

    return app


def bind(port: int = 0) -> socket.socket:
    """A listening socket on the loopback interface (``port`` 0: any free port)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket, token: str) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{host}:{port}/?token={token}"


def serve(data_dir: Path, port: int = 0, token: str | None = None, image_format: str = "jpeg",
          on_ready=None, log_level: str = "warning") -> None:
    """Serve until interrupted. ``on_ready(url)`` is called once the socket listens."""
    import uvicorn

    token = token or new_token()
    sock = bind(port)
    app = create_app(data_dir, token, image_format)
    config = uvicorn.Config(app, log_level=log_level, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    if on_ready is not None:
        on_ready(url_of(sock, token))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
