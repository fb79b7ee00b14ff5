"""Who may talk to the companion: localhost only by default; on the LAN only with the pairing token.

* Local mode (default, bound to 127.0.0.1): requests must name a local Host (``127.0.0.1``, ``localhost``,
  ``[::1]``), which stops DNS-rebinding pages from reaching the app through the browser.
* LAN mode (``--lan``): a random token is shown as a QR code in the terminal; the phone opens
  ``http://HOST:PORT/?token=...`` once, gets the token as an HttpOnly, SameSite=Strict cookie, and every
  later HTTP and WebSocket request must carry it (cookie, ``Authorization: Bearer``, or ``?token=``).
  Anything else is answered 401 before it reaches a handler.
* WebSockets must come from the app's own origin (no cross-site WebSocket hijacking).
"""

from __future__ import annotations

import hmac
import secrets
import socket
from urllib.parse import urlsplit

COOKIE = "anymo_token"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


def new_token() -> str:
    return secrets.token_urlsafe(18)


def lan_address() -> str:
    """This machine's address on the LAN (the interface the default route uses); 127.0.0.1 when offline."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))  # UDP connect sends nothing; it only picks the interface
            return s.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def host_name(host_header: str | None) -> str:
    """``Host`` header -> host name without the port (IPv6 brackets kept)."""
    h = (host_header or "").strip().lower()
    if h.startswith("["):
        return h.split("]")[0] + "]"
    return h.rsplit(":", 1)[0] if ":" in h else h


def token_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), given.encode())


def request_token(request) -> str | None:
    """The token a request carries: cookie, bearer header, or ``token`` query parameter."""
    auth = request.headers.get("Authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.query.get("token") or request.cookies.get(COOKIE)


def same_origin(request) -> bool:
    """A WebSocket's Origin (browsers always send one) must be the app itself."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True  # not a browser (a script with the token); the token check still applies
    return urlsplit(origin).netloc.lower() == (request.headers.get("Host") or "").lower()


def qr_text(url: str) -> str:
    """The URL as a QR code drawn with text blocks for a terminal (segno), or '' when segno is missing."""
    try:
        import segno
    except ImportError:
        return ""
    import io

    buf = io.StringIO()
    segno.make(url, error="m").terminal(out=buf, compact=True)
    return buf.getvalue()
