"""Leader election through a Consul lock, so only one instance of a singleton role acts.

Each instance holds a TTL session and tries to acquire ``botpool/leaders/<role>``
with it; the holder renews the session every third of the TTL. If the leader
dies, its session expires (Consul may take up to twice the TTL), the key is
released and a standby blocked on the key acquires it at once. A lock delay of
one second keeps a standby from racing a leader that only briefly lost contact.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket

import structlog
from consul.aio import Consul

from botpool.clients.consul import create_session
from botpool.pool import keys

log = structlog.get_logger("botpool.leader")


class LeaderLock:
    """Acquire and keep leadership of ``role``; ``is_leader`` is what callers check before acting."""

    def __init__(self, consul: Consul, role: str, *, ttl_s: int = 10) -> None:
        self.consul = consul
        self.role = role
        self.ttl_s = ttl_s
        self.session: str | None = None
        self.is_leader = False
        self.changed = asyncio.Event()
        self.identity = f"{socket.gethostname()}:{os.getpid()}"

    async def run(self, stop: asyncio.Event) -> None:
        """Campaign until ``stop``; keeps renewing while leader, re-campaigns if the session is lost."""
        key = keys.leader(self.role)
        index = None
        while not stop.is_set():
            if self.session is None:
                self.session = await create_session(
                    self.consul, name=f"{self.role}-leader", ttl_s=self.ttl_s, behavior="release", lock_delay_s=1,
                    node_checks=["serfHealth"],
                )
            acquired = await self.consul.kv.put(
                key, json.dumps({"holder": self.identity}), acquire=self.session
            )
            self._set(bool(acquired))
            if self.is_leader:
                await self._hold(stop)
                continue
            # Standby: block until the key changes (released when the leader's session dies).
            with contextlib.suppress(Exception):
                index, _ = await self.consul.kv.get(key, index=index, wait=f"{self.ttl_s}s")
            await self._renew()

    async def _hold(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            if not await self._renew():
                self._set(False)
                return
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.ttl_s / 3)

    async def _renew(self) -> bool:
        if self.session is None:
            return False
        try:
            result = await self.consul.session.renew(self.session)
        except Exception:
            result = None
        if not result:
            self.session = None
            return False
        return True

    def _set(self, leader: bool) -> None:
        if leader != self.is_leader:
            self.is_leader = leader
            log.info("leadership changed", role=self.role, leader=leader, identity=self.identity)
            self.changed.set()

    async def resign(self) -> None:
        """Give leadership up at once (clean shutdown), so a standby need not wait for the TTL."""
        if self.session is not None:
            with contextlib.suppress(Exception):
                await self.consul.session.destroy(self.session)
        self.session = None
        self._set(False)
