"""``BleakGattClient``: the ``GattClient`` slice a driver's GATT procedure needs, over a real ``bleak.BleakClient``.

Characteristics are addressed by UUID (the first one with that UUID; our devices have unique UUIDs).
Notification handlers receive ``(char_uuid, data)`` with the UUID in lower case, as the decoders expect.
"""

from __future__ import annotations

from bleak import BleakClient

from firmware_bridge.devices.base import GattClient, NotifyHandler


class BleakGattClient(GattClient):
    def __init__(self, client: BleakClient) -> None:
        self.client = client

    def _char(self, char_uuid: str):
        services = self.client.services
        char = services.get_characteristic(char_uuid.lower()) if services is not None else None
        if char is None:
            raise ValueError(f"characteristic {char_uuid} not found on {self.client.address}; "
                             "is this the right device type?")
        return char

    async def write(self, char_uuid: str, data: bytes, response: bool = True) -> None:
        await self.client.write_gatt_char(self._char(char_uuid), bytes(data), response=response)

    async def read(self, char_uuid: str) -> bytes:
        return bytes(await self.client.read_gatt_char(self._char(char_uuid)))

    async def start_notify(self, char_uuid: str, handler: NotifyHandler) -> None:
        uuid = char_uuid.lower()

        def callback(_char, data: bytearray) -> None:
            handler(uuid, bytes(data))

        await self.client.start_notify(self._char(char_uuid), callback)

    async def stop_notify(self, char_uuid: str) -> None:
        await self.client.stop_notify(self._char(char_uuid))

    def max_notify_len(self, char_uuid: str) -> int | None:
        # BlueZ >= 5.62 reports the link's MTU per characteristic; bleak gives ATT_MTU - 3 (20 when unknown)
        try:
            return int(self._char(char_uuid).max_write_without_response_size)
        except Exception:  # noqa: BLE001 - a hint only
            return None
