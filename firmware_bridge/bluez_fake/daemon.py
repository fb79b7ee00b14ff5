"""A private ``dbus-daemon`` on a unix socket in a temporary folder (allow-everything policy).

Bleak talks to whatever ``DBUS_SYSTEM_BUS_ADDRESS`` names, so pointing it at this daemon makes it use
the fake ``org.bluez`` served there, while the machine's real system bus (if any) stays untouched.
"""

from __future__ import annotations

import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>custom</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow send_type="signal"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
  <limit name="max_replies_per_connection">50000</limit>
</busconfig>
"""


def _die_with_parent() -> None:
    """In the child, before exec: get SIGTERM when the process that started us dies (Linux), so a
    killed emulator never leaves an orphaned daemon behind."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class DBusDaemonNotFound(RuntimeError):
    """``dbus-daemon`` is not installed."""


def find_dbus_daemon() -> str | None:
    """Path of the ``dbus-daemon`` executable, or None."""
    return shutil.which("dbus-daemon") or next(
        (p for p in ("/usr/bin/dbus-daemon", "/bin/dbus-daemon") if os.access(p, os.X_OK)), None)


class PrivateBus:
    """One ``dbus-daemon`` process. ``start()`` returns once it accepts connections; ``stop()`` ends it
    and removes its folder. Usable as a context manager."""

    def __init__(self, folder: str | Path | None = None) -> None:
        self._given_folder = Path(folder) if folder is not None else None
        self.folder: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.address: str = ""

    @property
    def socket_path(self) -> Path:
        assert self.folder is not None, "bus not started"
        return self.folder / "system_bus_socket"

    def start(self, timeout_s: float = 10.0) -> str:
        """Start the daemon; return its address ``unix:path=...``."""
        exe = find_dbus_daemon()
        if exe is None:
            raise DBusDaemonNotFound(
                "dbus-daemon is not installed; install the Debian package 'dbus' (apt-get install dbus), "
                "which scripts/setup.sh does")
        if self._given_folder is not None:
            self._given_folder.mkdir(parents=True, exist_ok=True)
            self.folder = self._given_folder
        else:
            self.folder = Path(tempfile.mkdtemp(prefix="anymo-bluez-"))
        config = self.folder / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.socket_path))
        self.proc = subprocess.Popen(
            [exe, f"--config-file={config}", "--nofork", "--nopidfile", "--print-address=1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C in the terminal reaches us, and we stop the daemon in order
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        )
        assert self.proc.stdout is not None
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = sel.select(timeout_s)
        line = self.proc.stdout.readline().decode().strip() if ready else ""
        if not line.startswith("unix:"):
            err = b""
            if self.proc.poll() is not None and self.proc.stderr is not None:
                err = self.proc.stderr.read()
            self.stop()
            raise RuntimeError(f"dbus-daemon did not start (printed {line!r}): {err.decode(errors='replace').strip()}")
        self.address = f"unix:path={self.socket_path}"
        return self.address

    def stop(self, timeout_s: float = 5.0) -> None:
        """Terminate the daemon (SIGTERM, then SIGKILL) and remove the temporary folder."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout_s)
        if proc is not None:
            for stream in (proc.stdout, proc.stderr):
                if stream is not None:
                    stream.close()
        if self.folder is not None and self._given_folder is None:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder = None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def __enter__(self) -> PrivateBus:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
