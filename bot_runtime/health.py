"""The slot's HTTP health endpoint, probed by Consul; its body is what the Consul UI shows.

Consul stores the first part of a check's response body as the check output,
so ``WAITING`` or ``ACTIVE tenant=t_x @bot`` is visible at a glance in the UI.
It is not always-OK (defect 13 of the earlier implementation): an ACTIVE slot
whose bot stopped polling answers 503, which makes Consul mark it critical and
invalidates the slot's session, so the reconciler moves the tenant.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

Probe = Callable[[], tuple[bool, str]]


class HealthServer:
    """A tiny aiohttp server on the slot's Nomad port."""

    def __init__(self, port: int, probe: Probe) -> None:
        self._port = port
        self._probe = probe
        self._runner: web.AppRunner | None = None

    async def _health(self, _request: web.Request) -> web.Response:
        ok, text = self._probe()
        return web.Response(status=200 if ok else 503, text=text)

    async def start(self) -> None:
        """Start listening on loopback-or-all as Nomad's network says (the port is Nomad's)."""
        app = web.Application()
        app.router.add_get("/health", self._health)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "0.0.0.0", self._port).start()

    async def stop(self) -> None:
        """Stop serving."""
        if self._runner is not None:
            await self._runner.cleanup()
