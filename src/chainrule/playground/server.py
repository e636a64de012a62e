"""The playground's web server: the standard library's ThreadingHTTPServer, JSON in and out.

It serves the page (``static/``) and a small JSON protocol, and nothing else; the page loads
nothing from anywhere else (its Content-Security-Policy says so to the browser too).

    GET  /api/schema                         controls: data sets, TrainConfig's fields, bugs, limits
    POST /api/session   {spec, drop}         a new run → {session, info, frame}
    POST /api/step      {session, epochs, since}   train that many epochs → frame
    POST /api/convention {session, convention}     go on under the other convention
    GET  /api/equations?session=&convention=       the equations as MathML, shapes, ∂L or ∂J, 1/m
    GET  /api/inspect?session=&name=dW[2]&examples=0,1,2&convention=
    GET  /api/gradcheck?session=&bug=double-1/m
    POST /api/upload?label=y&name=file.csv   (the CSV file's bytes) → {upload, features, classes, m}
    GET  /api/download?session=&what=model|history|latex

A bad request (unknown data set, absurd sizes, a malformed CSV file, bad JSON) is answered
with HTTP 400 and {"error": one sentence}; the server goes on serving.
"""

from __future__ import annotations

import json
import math
import sys
import threading
import traceback
import webbrowser
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .session import Session, Sessions
from .spec import LIMITS, prepare, schema
from .uploads import Uploads

STATIC = Path(__file__).parent / "static"
MAX_EPOCHS_PER_STEP = 1000
CONTENT_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                 ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
          "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'")
"""The page's Content-Security-Policy: every request it makes goes to this server."""


class Reply:
    """An answer: status, content type, body and extra headers."""

    def __init__(self, body: Any, status: int = 200, content_type: str = "application/json",
                 headers: dict[str, str] | None = None):
        if content_type == "application/json":
            body = json.dumps(_finite(body), separators=(",", ":"), allow_nan=False)
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.status, self.content_type, self.headers = status, content_type, headers or {}


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite float made None (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


class App:
    """What the routes share: the sessions and the uploads."""

    def __init__(self) -> None:
        self.sessions = Sessions()
        self.uploads = Uploads()


def _json(body: bytes) -> dict:
    """The request body as a JSON object, or a one-sentence refusal."""
    try:
        value = json.loads(body.decode("utf-8") or "null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"the request body is not valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"the request body must be a JSON object; got {type(value).__name__}")
    return value


def _int(value: Any, name: str, low: int, high: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an integer from {low} to {high}; got {value!r}") from None
    if isinstance(value, (bool, float)) or not low <= number <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}; got {value!r}")
    return number


# --- routes: each (app, query, body) -> Reply -------------------------------------------------------


def get_schema(app: App, query: dict, body: bytes) -> Reply:
    return Reply(schema())


def new_session(app: App, query: dict, body: bytes) -> Reply:
    request = _json(body)
    session = Session(prepare(request.get("spec"), app.uploads))
    key = app.sessions.add(session, drop=request.get("drop"))
    return Reply({"session": key, "info": session.info(), "frame": session.frame(0)})


def step(app: App, query: dict, body: bytes) -> Reply:
    request = _json(body)
    session = app.sessions.get(request.get("session"))
    epochs = _int(request.get("epochs", 1), "epochs", 0, MAX_EPOCHS_PER_STEP)
    since = _int(request.get("since", 0), "since", 0, LIMITS["num_epochs"])
    trained = session.step(epochs)
    return Reply({"trained": trained, **session.frame(since)})


def convention(app: App, query: dict, body: bytes) -> Reply:
    request = _json(body)
    session = app.sessions.get(request.get("session"))
    session.set_convention(request.get("convention"))
    return Reply({"convention": session.train.convention})


def equations(app: App, query: dict, body: bytes) -> Reply:
    return Reply(app.sessions.get(query.get("session")).equations(query.get("convention")))


def inspect_array(app: App, query: dict, body: bytes) -> Reply:
    session = app.sessions.get(query.get("session"))
    return Reply(session.inspect(query.get("name", ""), query.get("convention"), query.get("examples")))


def gradcheck(app: App, query: dict, body: bytes) -> Reply:
    return Reply(app.sessions.get(query.get("session")).gradcheck(query.get("bug", "none")))


def upload(app: App, query: dict, body: bytes) -> Reply:
    key, data = app.uploads.add(body, query.get("label", ""), query.get("name", "upload.csv"))
    return Reply({"upload": key, "name": data.name, "features": list(data.feature_names),
                  "classes": list(data.classes), "m": int(data.X.shape[1])})


def download(app: App, query: dict, body: bytes) -> Reply:
    session = app.sessions.get(query.get("session"))
    what = query.get("what")
    if what == "model":
        content, kind, name = session.model_file(), "application/octet-stream", "model.npz"
    elif what == "history":
        content, kind, name = session.history_csv(), "text/csv; charset=utf-8", "history.csv"
    elif what == "latex":
        content, kind, name = session.equations_latex(), "application/x-tex; charset=utf-8", "equations.tex"
    else:
        raise ValueError(f"unknown download {what!r}; expected model, history or latex")
    return Reply(content, content_type=kind, headers={"Content-Disposition": f'attachment; filename="{name}"'})


ROUTES: dict[tuple[str, str], Callable[[App, dict, bytes], Reply]] = {
    ("GET", "/api/schema"): get_schema,
    ("POST", "/api/session"): new_session,
    ("POST", "/api/step"): step,
    ("POST", "/api/convention"): convention,
    ("GET", "/api/equations"): equations,
    ("GET", "/api/inspect"): inspect_array,
    ("GET", "/api/gradcheck"): gradcheck,
    ("POST", "/api/upload"): upload,
    ("GET", "/api/download"): download,
}


def static_file(path: str) -> Reply | None:
    """The page's own files: / is index.html, /static/NAME a file of ``static/`` (no other path)."""
    name = "index.html" if path in ("/", "/index.html") else path.removeprefix("/static/")
    files = {p.name: p for p in STATIC.iterdir() if p.is_file()}
    if (path not in ("/", "/index.html") and not path.startswith("/static/")) or name not in files:
        return None
    headers = {"Cache-Control": "no-cache"}
    if name.endswith(".html"):
        headers["Content-Security-Policy"] = POLICY
    return Reply(files[name].read_bytes(), content_type=CONTENT_TYPES.get(files[name].suffix, "text/plain"),
                 headers=headers)


# --- the handler ------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    """Routes a request; a ValueError is the user's mistake (400), anything else the server's (500)."""

    protocol_version = "HTTP/1.1"                 # keep-alive: a frame is one short request
    disable_nagle_algorithm = True                # or headers and body wait for the client's delayed ACK
    server_version = "chainrule-playground"
    app: App

    def do_GET(self) -> None:
        self._answer("GET")

    def do_POST(self) -> None:
        self._answer("POST")

    def _answer(self, method: str) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        try:
            self._check_host()
            body = self._body() if method == "POST" else b""
            route = ROUTES.get((method, url.path))
            reply = route(self.server.app, query, body) if route else (static_file(url.path) if method == "GET"
                                                                        else None)
            if reply is None:
                reply = Reply({"error": f"nothing at {method} {url.path}"}, 404)
        except ValueError as exc:
            reply = Reply({"error": " ".join(str(exc).split())}, 400)
        except Exception as exc:                                      # the server's fault: say so, keep serving
            traceback.print_exc(file=sys.stderr)
            reply = Reply({"error": f"internal error ({type(exc).__name__}): {exc}"}, 500)
        self._send(reply)

    def _check_host(self) -> None:
        """Refuse requests addressed to another host name (a DNS-rebinding page)."""
        host, port = self.server.server_address[:2]
        allowed = {f"{name}:{port}" for name in (host, "127.0.0.1", "localhost", "[::1]")}
        if host in ("127.0.0.1", "localhost", "::1") and self.headers.get("Host") not in allowed:
            raise ValueError(f"this server answers requests to 127.0.0.1:{port} only")

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        try:
            length = int(length or 0)
        except ValueError:
            length = -1
        if not 0 <= length <= LIMITS["upload_bytes"] + 65536:
            self.close_connection = True                               # the body stays unread
            raise ValueError(f"the request body must be at most {LIMITS['upload_bytes']} bytes, with a "
                             f"Content-Length; got {self.headers.get('Content-Length')!r}")
        return self.rfile.read(length)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def log_message(self, format: str, *args: Any) -> None:      # quiet: a frame is a request
        return None


class PlaygroundServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]):
        super().__init__(address, Handler)
        self.app = App()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}/"


def start(host: str = "127.0.0.1", port: int = 0) -> tuple[str, Callable[[], None]]:
    """Serve on a background thread: (the page's URL, a function that stops the server).

    ``port`` 0 picks a free port. For tests and notebooks; ``serve`` is the command's.
    """
    server = PlaygroundServer((host, _int(port, "port", 0, 65535)))
    thread = threading.Thread(target=server.serve_forever, name="chainrule-playground", daemon=True)
    thread.start()

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join()

    return server.url, stop


def serve(host: str = "127.0.0.1", port: int = 0, open_browser: bool = True) -> None:
    """Serve the playground until Ctrl-C: print its URL, open it in a browser if asked, then
    shut down cleanly (``chainrule playground [--port N] [--no-browser]``)."""
    server = PlaygroundServer((host, _int(port, "port", 0, 65535)))
    print(f"chainrule playground at {server.url}  (Ctrl-C to stop)", flush=True)
    if open_browser:
        threading.Thread(target=webbrowser.open, args=(server.url,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("\nchainrule playground stopped", flush=True)
    finally:
        server.server_close()
