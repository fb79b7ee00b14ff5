"""The companion's request guard, in process (no browser, no model): localhost-only Host check, LAN token, origin."""

from __future__ import annotations

import asyncio

import pytest

aiohttp = pytest.importorskip("aiohttp", reason="aiohttp is missing (device extra)")
from aiohttp.test_utils import TestClient, TestServer  # noqa: E402

from companion_app.server import make_app  # noqa: E402
from edge.labels import LabelVocabulary  # noqa: E402


class _Service:
    """What the server reads of a LiveService, with no streaming behind it."""

    def __init__(self, tmp_path) -> None:
        self.vocabulary = LabelVocabulary(["walking", "sitting"], None)
        self.sessions_db = tmp_path / "none.sqlite"

    def snapshot(self) -> dict:
        return {"type": "snapshot", "state": "stopped", "labels": self.vocabulary.to_json()}

    def devices(self) -> list:
        return []

    def subscribe(self, fn):
        return lambda: None

    async def add_label(self, text: str) -> dict:
        self.vocabulary.add(text)
        return self.vocabulary.to_json()


def _run(coro):
    return asyncio.run(coro)


def test_local_mode_answers_only_to_a_local_host_name(tmp_path):
    async def go():
        async with TestClient(TestServer(make_app(_Service(tmp_path)))) as c:
            ok = await c.get("/api/state")
            assert ok.status == 200 and (await ok.json())["state"] == "stopped"
            for host in ("localhost:8765", "127.0.0.1", "[::1]:8765"):
                assert (await c.get("/api/devices", headers={"Host": host})).status == 200
            # a DNS-rebinding page reaches 127.0.0.1 under its own name: refused
            bad = await c.get("/api/state", headers={"Host": "evil.example:8765"})
            assert bad.status == 403 and "--lan" in (await bad.json())["error"]
            assert (await c.get("/", headers={"Host": "evil.example"})).status == 403
    _run(go())


def test_lan_mode_needs_the_token_on_every_request_and_remembers_it_in_a_cookie(tmp_path):
    async def go():
        async with TestClient(TestServer(make_app(_Service(tmp_path), token="s3cret-token"))) as c:
            for path in ("/", "/watch", "/static/app.js", "/api/state", "/api/sessions"):
                assert (await c.get(path)).status == 401, path
            assert (await c.post("/api/labels", json={"text": "intruder"})).status == 401
            assert (await c.get("/api/state", headers={"Authorization": "Bearer wrong"})).status == 401
            assert (await c.get("/api/state", headers={"Authorization": "Bearer s3cret-token"})).status == 200
            first = await c.get("/?token=s3cret-token")
            assert first.status == 200
            cookie = first.cookies["anymo_token"]
            assert cookie.value == "s3cret-token" and cookie["httponly"] and cookie["samesite"] == "Strict"
            # the client now sends the cookie: later requests need no token in the URL
            added = await c.post("/api/labels", json={"text": "brushing teeth"})
            assert added.status == 200 and "brushing teeth" in (await added.json())["custom"]
    _run(go())


def test_a_websocket_from_another_origin_is_refused(tmp_path):
    async def go():
        async with TestClient(TestServer(make_app(_Service(tmp_path)))) as c:
            with pytest.raises(aiohttp.WSServerHandshakeError) as err:
                await c.ws_connect("/ws", headers={"Origin": "http://evil.example"})
            assert err.value.status == 403
            ws = await c.ws_connect("/ws", headers={"Origin": f"http://{c.host}:{c.port}"})
            first = await ws.receive_json(timeout=5)
            assert first["type"] == "snapshot"
            await ws.close()
    _run(go())


def test_bad_api_input_is_a_400_naming_the_problem(tmp_path):
    async def go():
        async with TestClient(TestServer(make_app(_Service(tmp_path)))) as c:
            r = await c.post("/api/labels", json={"text": "uncertain"})
            assert r.status == 400 and "reserved" in (await r.json())["error"]
            r = await c.post("/api/labels", data="not json", headers={"Content-Type": "application/json"})
            assert r.status == 400 and "JSON" in (await r.json())["error"]
            assert (await c.get("/api/sessions")).status == 200  # no database yet: an empty list, not an error
    _run(go())
