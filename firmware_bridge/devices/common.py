"""Small pieces every codec shares: sequence tracking, clock unwrapping, waiting for a control-point reply."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np

from anymo.constants import STANDARD_GRAVITY_MPS2

from .base import DecodeStats

log = logging.getLogger(__name__)

G0_MPS2 = STANDARD_GRAVITY_MPS2  # standard gravity (anymo.constants)
DEG2RAD = np.pi / 180.0


class SeqTracker:
    """Counts lost, duplicate and late packets for a wrapping sequence counter of ``bits`` bits.

    ``accept(seq)`` returns True for a packet that moves the stream forward. Duplicates and late
    (out-of-order) packets return False: they are counted and must be dropped, so the sample stream
    stays monotonic. The gap a late packet left stays counted in ``packets_lost``.
    """

    def __init__(self, stats: DecodeStats, bits: int = 16) -> None:
        self.stats = stats
        self.mod = 1 << bits
        self.last: int | None = None

    def accept(self, seq: int) -> bool:
        if self.last is None:
            self.last = seq
            return True
        diff = (seq - self.last) % self.mod
        if diff == 0:
            self.stats.duplicates += 1
            return False
        if diff >= self.mod // 2:
            self.stats.out_of_order += 1
            return False
        self.stats.packets_lost += diff - 1
        self.last = seq
        return True


class ClockUnwrapper:
    """Unwraps a wrapping device counter (e.g. uint32 microseconds) into a monotonic int.

    Each new raw value is placed at the nearest position to the previous one (signed modular
    difference), so wraps forward are followed and a slightly earlier value stays earlier.
    """

    def __init__(self, bits: int = 32) -> None:
        self.mod = 1 << bits
        self.last_unwrapped: int | None = None

    def peek(self, raw: int) -> int:
        if self.last_unwrapped is None:
            return raw
        diff = (raw - self.last_unwrapped) % self.mod
        if diff >= self.mod // 2:
            diff -= self.mod
        return self.last_unwrapped + diff

    def update(self, raw: int) -> int:
        self.last_unwrapped = self.peek(raw)
        return self.last_unwrapped


class ReplyWaiter:
    """Collects control-point replies (notifications/indications) and lets a procedure await one."""

    def __init__(self) -> None:
        self._queue: asyncio.Queue[bytes] = asyncio.Queue()

    def handler(self, char_uuid: str, data: bytes) -> None:
        self._queue.put_nowait(bytes(data))

    async def wait(self, match, timeout_s: float = 5.0) -> bytes:
        """Return the first queued reply for which ``match(reply)`` is true (others are discarded)."""
        async def _next() -> bytes:
            while True:
                reply = await self._queue.get()
                if match(reply):
                    return reply
                log.debug("ignoring unrelated control-point reply %s", reply.hex())

        return await asyncio.wait_for(_next(), timeout_s)


async def quietly(coro) -> None:
    """Await a stop-procedure step, tolerating a dropped link (the device may already be gone)."""
    with contextlib.suppress(Exception):
        await coro


def nearest(value: float, choices) -> float:
    """The supported value nearest to ``value`` (ties go to the larger one)."""
    choices = sorted(choices)
    return min(choices, key=lambda c: (abs(c - value), -c))


def at_least(value: float, choices) -> float:
    """The smallest supported range that covers ``value`` (else the largest one)."""
    choices = sorted(choices)
    for c in choices:
        if c >= value:
            return c
    return choices[-1]
