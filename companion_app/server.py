"""The companion web app: aiohttp, one WebSocket for live updates, plain HTML/JS/CSS (no build step).

Pages: ``/`` (phone: Live, Devices, Labels, History) and ``/watch`` (the current label, large). The app
talks to the runtime only through `edge.live_service.LiveService` (and reads stored sessions through
`edge.session_store.SessionReader`). Security: `companion_app.security`.

HTTP API (JSON): ``GET /api/state``; ``POST /api/scan``; ``GET|POST /api/devices``,
``PATCH|DELETE /api/devices/{address}``; ``GET|POST|PUT|DELETE /api/labels``; ``GET /api/sessions``,
``GET /api/sessions/{id}``, ``GET /api/sessions/{id}/export.{json,zip}``; ``GET /api/placements``.
WebSocket ``/ws``: a ``snapshot`` first, then the service's events (label, caption, signal, devices,
session, labels).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import tempfile
import weakref
import zipfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from aiohttp import WSMsgType, web

from companion_app import security

log = logging.getLogger(__name__)

STATIC = resources.files("companion_app") / "static"
SERVICE = web.AppKey("service", object)
TOKEN = web.AppKey("token", object)
SOCKETS = web.AppKey("sockets", weakref.WeakSet)


def _json_error(status: int, message: str) -> web.Response:
    return web.json_response({"error": message}, status=status)


@web.middleware
async def guard(request: web.Request, handler):
    """Every request: a local Host in local mode; the token in LAN mode (see companion_app.security)."""
    token = request.app[TOKEN]
    if token is None:
        if security.host_name(request.headers.get("Host")) not in security.LOCAL_HOSTS:
            return _json_error(403, "this companion only answers on localhost; start it with --lan to use it "
                                    "from another device")
    elif not security.token_matches(token, security.request_token(request)):
        return _json_error(401, "pairing token missing or wrong: scan the QR code `anymo app --lan` printed "
                                "(or open the URL it shows)")
    try:
        resp = await handler(request)
    except web.HTTPException:
        raise
    except ValueError as exc:
        return _json_error(400, str(exc))
    except KeyError as exc:
        return _json_error(404, str(exc.args[0]) if exc.args else "not found")
    if token is not None and request.query.get("token") and isinstance(resp, web.StreamResponse) \
            and not isinstance(resp, web.WebSocketResponse):
        resp.set_cookie(security.COOKIE, token, httponly=True, samesite="Strict")
    return resp


# -- pages ----------------------------------------------------------------------------------------

def _static_file(name: str) -> web.Response:
    path = STATIC / name
    if not path.is_file():
        raise web.HTTPNotFound()
    types = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
    ctype = types.get(Path(name).suffix, "application/octet-stream")
    return web.Response(body=path.read_bytes(), content_type=ctype, headers={"Cache-Control": "no-cache"})


async def page_index(request: web.Request) -> web.Response:
    return _static_file("index.html")


async def page_watch(request: web.Request) -> web.Response:
    return _static_file("watch.html")


async def static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if "/" in name or name.startswith("."):
        raise web.HTTPNotFound()
    return _static_file(name)


# -- API ------------------------------------------------------------------------------------------

async def _body(request: web.Request) -> dict:
    try:
        doc = await request.json()
    except json.JSONDecodeError:
        raise ValueError("the request body must be JSON") from None
    if not isinstance(doc, dict):
        raise ValueError("the request body must be a JSON object")
    return doc


async def api_state(request: web.Request) -> web.Response:
    return web.json_response(request.app[SERVICE].snapshot())


async def api_placements(request: web.Request) -> web.Response:
    from anymo.body.placement_names import NAMED_PLACEMENTS

    return web.json_response({"placements": list(NAMED_PLACEMENTS)})


async def api_scan(request: web.Request) -> web.Response:
    timeout = float(request.query.get("timeout", 3.0))
    if not 0.5 <= timeout <= 30:
        raise ValueError("timeout must be 0.5..30 seconds")
    return web.json_response({"found": await request.app[SERVICE].scan(timeout)})


async def api_devices(request: web.Request) -> web.Response:
    return web.json_response({"devices": request.app[SERVICE].devices()})


async def api_pair(request: web.Request) -> web.Response:
    doc = await _body(request)
    if not doc.get("address") or not doc.get("placement"):
        raise ValueError("pairing needs an address and a placement")
    dev = await request.app[SERVICE].pair(doc["address"], doc["placement"], doc.get("device_type"), doc.get("name"))
    return web.json_response({"device": dev})


async def api_device_update(request: web.Request) -> web.Response:
    doc = await _body(request)
    if not doc.get("placement"):
        raise ValueError("give the new placement")
    dev = await request.app[SERVICE].set_placement(request.match_info["address"], doc["placement"])
    return web.json_response({"device": dev})


async def api_forget(request: web.Request) -> web.Response:
    await request.app[SERVICE].forget(request.match_info["address"])
    return web.json_response({"ok": True})


async def api_labels(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    if request.method == "GET":
        return web.json_response(service.vocabulary.to_json())
    if request.method == "DELETE":
        text = request.query.get("text") or (await _body(request)).get("text")
        return web.json_response(await service.remove_label(text or ""))
    doc = await _body(request)
    if request.method == "POST":
        return web.json_response(await service.add_label(doc.get("text", "")))
    return web.json_response(await service.rename_label(doc.get("old", ""), doc.get("new", "")))


def _reader(request: web.Request):
    from edge.session_store import SessionReader, SessionStoreError

    path = request.app[SERVICE].sessions_db
    try:
        return SessionReader(path)
    except SessionStoreError as exc:
        raise KeyError(str(exc)) from None


async def api_sessions(request: web.Request) -> web.Response:
    if not Path(request.app[SERVICE].sessions_db).exists():
        return web.json_response({"sessions": []})
    with _reader(request) as r:
        return web.json_response({"sessions": [s.to_json() for s in r.sessions()[:200]]})


def _session_id(request: web.Request) -> int:
    try:
        return int(request.match_info["id"])
    except ValueError:
        raise ValueError("a session id is a number") from None


async def api_session(request: web.Request) -> web.Response:
    sid = _session_id(request)
    with _reader(request) as r:
        return web.json_response({"session": r.session(sid).to_json(), "timeline": r.timeline(sid),
                                  "captions": r.captions(sid), "device_stats": r.device_stats(sid)})


async def api_export(request: web.Request) -> web.Response:
    sid, fmt = _session_id(request), request.match_info["fmt"]
    with _reader(request) as r, tempfile.TemporaryDirectory() as tmp:
        r.session(sid)  # 404 before writing anything
        if fmt == "json":
            body = r.export_json(sid, Path(tmp) / "s.json").read_bytes()
            ctype = "application/json"
        else:
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for p in r.export_csv(sid, tmp):
                    z.write(p, p.name)
            body, ctype = buf.getvalue(), "application/zip"
    return web.Response(body=body, content_type=ctype,
                        headers={"Content-Disposition": f'attachment; filename="anymo-session-{sid}.{fmt}"'})


async def websocket(request: web.Request) -> web.WebSocketResponse:
    if not security.same_origin(request):
        raise web.HTTPForbidden(text="cross-origin WebSocket refused")
    ws = web.WebSocketResponse(heartbeat=20.0)
    await ws.prepare(request)
    service = request.app[SERVICE]
    queue: asyncio.Queue = asyncio.Queue(maxsize=200)

    def push(event: dict) -> None:
        if queue.full():  # a slow client loses old plot batches, never blocks the runtime
            queue.get_nowait()
        queue.put_nowait(event)

    unsubscribe = service.subscribe(push)
    request.app[SOCKETS].add(ws)

    async def sender() -> None:
        await ws.send_json(service.snapshot())
        while True:
            await ws.send_json(await queue.get())

    task = asyncio.ensure_future(sender())
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT and msg.data == "snapshot":
                push(service.snapshot())
            elif msg.type == WSMsgType.ERROR:
                break
    finally:
        unsubscribe()
        task.cancel()
    return ws


def make_app(service, token: str | None = None) -> web.Application:
    app = web.Application(middlewares=[guard])
    app[SERVICE] = service
    app[TOKEN] = token
    app[SOCKETS] = weakref.WeakSet()
    app.router.add_get("/", page_index)
    app.router.add_get("/watch", page_watch)
    app.router.add_get("/static/{name}", static)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/api/state", api_state)
    app.router.add_get("/api/placements", api_placements)
    app.router.add_post("/api/scan", api_scan)
    app.router.add_get("/api/devices", api_devices)
    app.router.add_post("/api/devices", api_pair)
    app.router.add_patch("/api/devices/{address}", api_device_update)
    app.router.add_delete("/api/devices/{address}", api_forget)
    app.router.add_route("*", "/api/labels", api_labels)
    app.router.add_get("/api/sessions", api_sessions)
    app.router.add_get("/api/sessions/{id}", api_session)
    app.router.add_get(r"/api/sessions/{id}/export.{fmt:(json|zip)}", api_export)

    async def close_sockets(app: web.Application) -> None:
        for ws in list(app[SOCKETS]):
            await ws.close()
    app.on_shutdown.append(close_sockets)
    return app


@dataclass
class CompanionServer:
    runner: web.AppRunner
    url: str
    url_watch: str
    token: str | None

    async def close(self) -> None:
        await self.runner.cleanup()


async def start_server(service, port: int = 8765, lan: bool = False, host: str | None = None) -> CompanionServer:
    """Serve the app for ``service`` (127.0.0.1 unless ``lan``); prints the QR code in LAN mode."""
    token = security.new_token() if lan else None
    bind = host or ("0.0.0.0" if lan else "127.0.0.1")
    runner = web.AppRunner(make_app(service, token), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, bind, port)
    try:
        await site.start()
    except OSError as exc:
        await runner.cleanup()
        raise RuntimeError(f"cannot serve the companion on {bind}:{port} ({exc.strerror or exc}); is another "
                           "`anymo app` running? choose another --port") from None
    shown = security.lan_address() if lan else "127.0.0.1"
    url = f"http://{shown}:{port}/"
    if token:
        url_tok = f"{url}?token={token}"
        qr = security.qr_text(url_tok)
        print(f"\ncompanion on the LAN: scan this with your phone (or open {url_tok}):\n{qr}", flush=True)
        return CompanionServer(runner, url_tok, f"{url}watch?token={token}", token)
    return CompanionServer(runner, url, f"{url}watch", None)
