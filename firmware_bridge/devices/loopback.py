"""An in-memory ``GattClient`` wired straight to a ``VirtualPeripheral`` (no BlueZ, no D-Bus).

Writes go to ``peripheral.on_write``; its replies are delivered to the subscribed notify handlers.
Used to prove that a driver's GATT procedure and its peripheral agree, and handy for offline demos.
"""

from __future__ import annotations

import asyncio

import numpy as np

from .base import GattClient, NotifyHandler, VirtualPeripheral


class LoopbackGattClient(GattClient):
    def __init__(self, peripheral: VirtualPeripheral) -> None:
        self.peripheral = peripheral
        self.handlers: dict[str, NotifyHandler] = {}
        self.log: list[tuple[str, str, bytes]] = []  # (op, char_uuid, data): the procedure as it ran
        self.connected = True
        self._chars = {ch.uuid.lower(): ch for svc in peripheral.services for ch in svc.characteristics}

    def _char(self, char_uuid: str, need: tuple[str, ...]):
        if not self.connected:
            raise ConnectionError("not connected")
        ch = self._chars.get(char_uuid.lower())
        if ch is None:
            raise KeyError(f"characteristic {char_uuid} not in {self.peripheral.device_type} GATT table")
        if not set(need) & set(ch.flags):
            raise PermissionError(f"{char_uuid} does not allow {need} (flags {ch.flags})")
        return ch

    def deliver(self, notifications: list[tuple[str, bytes]]) -> None:
        for uuid, data in notifications:
            handler = self.handlers.get(uuid.lower())
            if handler is not None:
                handler(uuid.lower(), bytes(data))

    async def write(self, char_uuid: str, data: bytes, response: bool = True) -> None:
        self._char(char_uuid, ("write",) if response else ("write-without-response", "write"))
        self.log.append(("write", char_uuid.lower(), bytes(data)))
        replies = self.peripheral.on_write(char_uuid.lower(), bytes(data))
        await asyncio.sleep(0)
        self.deliver(replies)

    async def read(self, char_uuid: str) -> bytes:
        self._char(char_uuid, ("read",))
        self.log.append(("read", char_uuid.lower(), b""))
        return bytes(self.peripheral.read(char_uuid.lower()))

    async def start_notify(self, char_uuid: str, handler: NotifyHandler) -> None:
        self._char(char_uuid, ("notify", "indicate"))
        self.log.append(("start_notify", char_uuid.lower(), b""))
        self.handlers[char_uuid.lower()] = handler
        self.deliver(self.peripheral.on_subscribe(char_uuid.lower(), True))

    async def stop_notify(self, char_uuid: str) -> None:
        self._char(char_uuid, ("notify", "indicate"))
        self.log.append(("stop_notify", char_uuid.lower(), b""))
        self.handlers.pop(char_uuid.lower(), None)
        self.peripheral.on_subscribe(char_uuid.lower(), False)

    def max_notify_len(self, char_uuid: str) -> int | None:
        mtu = getattr(self.peripheral, "mtu", None)
        return int(mtu) - 3 if mtu else None

    def push(self, t_device_s: np.ndarray, acc_mps2: np.ndarray, gyro_rads: np.ndarray | None = None,
             mag_uT: np.ndarray | None = None) -> int:
        """Encode a block through the peripheral and deliver it; returns the number of notifications."""
        notes = self.peripheral.encode(t_device_s, acc_mps2, gyro_rads, mag_uT) if self.peripheral.streaming() else []
        self.deliver(notes)
        return len(notes)
