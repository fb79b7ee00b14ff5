"""The companion app in a real headless Chromium (Debian's chromium driven by Playwright; no browser download).

`anymo app --emulate` serves the app with four emulated wearables (real bleak over a fake BlueZ) that
replay walking -> sitting down -> an arm exercise, 8 s each. The tests pair one from the Devices page,
watch the live label change as the replayed activity changes, add a custom label and see it scored, and
check that LAN mode refuses every request without the pairing token. Screenshots of the phone and watch
layouts go to ``out/screenshots/`` (the README's are copied from there).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = ROOT / "out" / "screenshots"
PHASE_S = 8.0
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run"]


def _requirements() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian's chromium is not installed (scripts/setup.sh installs it: apt-get install chromium)")
    pytest.importorskip("playwright.sync_api", reason="the Python package playwright is missing (dev extra)")
    pytest.importorskip("aiohttp", reason="aiohttp is missing (device extra: pip install 'anymo-edge[device]')")
    if shutil.which("dbus-daemon") is None:
        pytest.skip("dbus-daemon missing: install the Debian package 'dbus'")
    from edge.bundle import DEFAULT_BUNDLE

    try:
        import edge.engine  # noqa: F401
    except ImportError as exc:
        pytest.skip(f"the engine cannot be imported ({exc})")
    bundle = Path(os.environ.get("ANYMO_BUNDLE") or DEFAULT_BUNDLE)  # the shipped one, or a tiny real one
    if not (bundle / "manifest.json").is_file():
        pytest.skip(f"no model bundle at {bundle}: export one with `anymo export` (or set ANYMO_BUNDLE)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """`anymo app --emulate` in a subprocess (its own process group: the wearables' child goes with it)."""

    def __init__(self, tmp: Path, *extra: str) -> None:
        self.port = _free_port()
        env = dict(os.environ, ANYMO_CONFIG_DIR=str(tmp / "config"), ANYMO_SESSIONS_DB=str(tmp / "s.sqlite"))
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", "app", "--emulate", "--port", str(self.port), "--out", str(tmp / "app"),
             "--phase-s", str(PHASE_S), *extra],  # captions too when the bundle has a captioner
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env, start_new_session=True)
        self.lines: list[str] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("anymo app exited:\n" + "".join(self.lines))
            self.lines.append(line)
            if line.startswith("companion:"):
                self.url = line.split()[1]
                return
        raise RuntimeError("anymo app did not start:\n" + "".join(self.lines))

    def stop(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    _requirements()
    a = App(tmp_path_factory.mktemp("app"))
    yield a
    a.stop()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    _requirements()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=str(CHROMIUM), headless=True,
            args=FLAGS, viewport={"width": 390, "height": 844}, device_scale_factor=2)
        yield ctx
        ctx.close()


def _shot(page, name: str) -> None:
    """The viewport as a phone shows it (the tab bar is fixed to the bottom), once any toast has faded."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    with contextlib.suppress(Exception):
        page.wait_for_function("() => !document.querySelector('#toast')?.classList.contains('show')", timeout=5000)
    page.wait_for_timeout(400)  # the toast's fade-out
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def test_pair_from_the_devices_page_and_watch_the_label_follow_the_activity(app, browser):
    page = browser.new_page()
    page.goto(app.url + "#devices")
    page.click("#scan")
    page.wait_for_selector(".device.found", timeout=20_000)
    found = page.locator(".device.found")
    assert found.count() == 4  # the four emulated wearables, each recognised by its driver
    wrist = page.locator('.device.found[data-address="AA:4D:00:00:00:01"]')
    wrist.locator(".pair").click()
    page.wait_for_selector("dialog[open]")
    page.click('.spot[data-placement="right_wrist"]')
    assert page.inner_text("#placer-choice").lower() == "right wrist"
    _shot(page, "phone-pair-placement")
    page.click("#placer-ok")
    page.wait_for_selector('#paired .device[data-address="AA:4D:00:00:00:01"] .dot.on', timeout=30_000)
    assert "right wrist" in page.inner_text("#paired").lower()
    page.wait_for_function("() => document.querySelector('#paired .stats').innerText.includes('Hz')")
    page.click('nav button[data-tab="live"]')
    # the first label (its line names the sensors and the inference time)
    page.wait_for_function("() => / ms$/.test(document.querySelector('#herometa').innerText)", timeout=30_000)
    seen, t_end = [], time.monotonic() + 3 * PHASE_S + 4
    while time.monotonic() < t_end:  # one full loop of walking -> sitting down -> arm exercise
        seen.append(page.inner_text("#label"))
        time.sleep(0.5)
    shown = [s for s in dict.fromkeys(seen) if s != "uncertain"]
    assert len(shown) >= 2, f"the label never changed while the replayed activity did: {seen}"
    assert page.locator("#timeline span").count() >= 2  # the session's timeline has the changes
    page.wait_for_function("() => document.querySelectorAll('#legend span').length === 1")  # the live plot
    _shot(page, "phone-live")
    page.click('nav button[data-tab="devices"]')
    _shot(page, "phone-devices")


def test_a_custom_label_is_added_and_scored_from_the_next_window(app, browser):
    page = browser.new_page()
    page.goto(app.url + "#labels")
    page.wait_for_selector("#builtin li[data-label]")
    page.fill("#newlabel", "physio: shoulder abduction")
    page.click("#addlabel button")
    row = page.locator('#custom li[data-label="physio: shoulder abduction"]')
    row.wait_for(timeout=10_000)
    # scored as soon as the next window is labelled: a percentage replaces the dash
    page.wait_for_function("""() => { const li = document.querySelector('#custom li[data-label="physio: shoulder abduction"]');
        return li && /\\d+%/.test(li.querySelector('.lscore').innerText); }""", timeout=15_000)
    with urllib.request.urlopen(app.url + "api/labels") as r:
        assert "physio: shoulder abduction" in json.load(r)["custom"]
    _shot(page, "phone-labels")
    page.click('nav button[data-tab="history"]')
    page.wait_for_selector("#sessions li[data-id]")
    page.locator("#sessions li[data-id]").first.click()
    page.wait_for_selector("#hd-timeline span")
    _shot(page, "phone-history")


def test_watch_layout_shows_the_label_large_on_round_and_square_faces(app, browser):
    for name, size in (("watch-round", 240), ("watch-square", 200)):
        page = browser.new_page()
        page.set_viewport_size({"width": size, "height": size})
        page.goto(app.url + "watch")
        page.wait_for_function("() => document.querySelector('#sub').innerText !== 'connecting'"
                               " && !document.querySelector('#label').innerText.startsWith('…')", timeout=30_000)
        box = page.locator("#label").bounding_box()
        assert box["width"] <= size * 0.7  # inside the inscribed circle of a round face
        font_px = float(page.eval_on_selector("#label", "e => parseFloat(getComputedStyle(e).fontSize)"))
        assert font_px >= 18  # large: legible at a glance
        _shot(page, name)
        page.close()


def test_lan_mode_refuses_http_and_websocket_requests_without_the_token(tmp_path_factory, browser):
    _requirements()
    lan = App(tmp_path_factory.mktemp("lan"), "--lan")
    try:
        token = lan.url.split("token=")[1]
        base = f"http://127.0.0.1:{lan.port}/"
        for path in ("", "watch", "api/state", "api/devices", "static/app.js"):
            with pytest.raises(urllib.error.HTTPError) as err:
                urllib.request.urlopen(base + path)
            assert err.value.code == 401, path
        req = urllib.request.Request(base + "api/labels", data=b'{"text": "intruder"}', method="POST",
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req)
        assert err.value.code == 401
        req = urllib.request.Request(base + "api/state", headers={"Authorization": f"Bearer {token}x"})
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(req)
        page = browser.new_page()
        resp = page.goto(base)  # the browser without the token: refused
        assert resp.status == 401 and "pairing token" in page.content()
        ws_ok = page.evaluate("""(u) => new Promise(r => { const ws = new WebSocket(u);
            ws.onopen = () => r(true); ws.onerror = () => r(false); })""", f"ws://127.0.0.1:{lan.port}/ws")
        assert ws_ok is False
        resp = page.goto(f"{base}?token={token}")  # the QR code's URL: in, and the cookie carries the token on
        assert resp.status == 200
        page.wait_for_function("() => document.querySelector('#status').innerText !== 'connecting…'", timeout=15_000)
        assert page.inner_text("#status") in ("idle", "live", "connected")  # the WebSocket got in with the cookie
        assert page.evaluate("() => fetch('/api/state').then(r => r.status)") == 200
        printed = "".join(lan.lines)
        assert "companion on the LAN" in printed and any(c in printed for c in "\u2580\u2584\u2588")  # the QR code
    finally:
        lan.stop()
