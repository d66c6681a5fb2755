"""The botpool processes the local stack runs beside the backing services: the two stand-ins and the reconciler.

Kept apart from ``services`` (the five real backing services) because these
are this project's own Python programs, started with this checkout's
interpreter; ``botpool up`` adds them to the backing services (``SYSTEM``).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import ClassVar

from botpool.pool import keys
from devstack import acl
from devstack.binaries import Binary
from devstack.services import Service, control_env, http_ok
from devstack.state import StackState


class PythonService(Service):
    """A botpool process run by the local stack with this checkout's interpreter."""

    module: ClassVar[str]

    def resolve_binary(self) -> Binary:
        return Binary(self.name, Path(sys.executable), sys.version.split()[0], "path")

    def argv(self, state: StackState) -> list[str]:
        return [self.binary(state), "-m", self.module, *self.args(state)]

    def args(self, state: StackState) -> list[str]:
        """Extra command-line arguments."""
        return []


class TelegramStandin(PythonService):
    """The local Telegram Bot API stand-in, so bots run without reaching Telegram (docs/telegram-standin.md)."""

    name = "telegram"
    module = "devstack.standins.telegram"
    port_labels: ClassVar[dict[str, int | None]] = {"telegram": 8081}

    def args(self, state: StackState) -> list[str]:
        return ["--host", "127.0.0.1", "--port", str(state.ports["telegram"])]

    def problem(self, state: StackState) -> str | None:
        resp = http_ok(f"http://127.0.0.1:{state.ports['telegram']}/control/health")
        return None if resp is not None and resp.status_code == 200 else "not answering"

    def addresses(self, state: StackState) -> dict[str, str]:
        return {"Telegram stand-in": f"http://127.0.0.1:{state.ports['telegram']}"}


class YooKassaStandin(PythonService):
    """The local YooKassa stand-in (docs/yookassa-standin.md): the sales bot's shop, paid through its control API.

    Its notifications go to the sales bot's endpoint (port ``sales_notify``) from 127.0.0.1, the only
    address the local sales bot trusts. The shop's secret key is a generated local credential, passed
    through the environment, never argv.
    """

    name = "yookassa"
    module = "devstack.standins.yookassa"
    port_labels: ClassVar[dict[str, int | None]] = {"yookassa": 8082, "sales_notify": 8090}
    #: The local shop's id (not a secret; the key is).
    SHOP_ID = "100500"

    def args(self, state: StackState) -> list[str]:
        return [
            "--host", "127.0.0.1", "--port", str(state.ports["yookassa"]), "--shop-id", self.SHOP_ID,
            "--notification-url", f"http://127.0.0.1:{state.ports['sales_notify']}/yookassa/notifications",
        ]

    def env(self, state: StackState) -> dict[str, str]:
        return {"YOOKASSA_SECRET_KEY": state.secret("yookassa_secret_key")}

    def problem(self, state: StackState) -> str | None:
        resp = http_ok(f"http://127.0.0.1:{state.ports['yookassa']}/control/health")
        return None if resp is not None else "not answering"

    def addresses(self, state: StackState) -> dict[str, str]:
        return {"YooKassa stand-in": f"http://127.0.0.1:{state.ports['yookassa']}"}


class ReconcilerService(PythonService):
    """The reconciler, so tenants are re-activated when slots die on the local system too.

    It runs with the reconciler's own Vault token (token role ``botpool-reconciler``), not the operator's.
    """

    name = "reconciler"
    module = "reconciler"
    port_labels: ClassVar[dict[str, int | None]] = {}
    after = ("consul", "vault", "postgres", "redis")

    def env(self, state: StackState) -> dict[str, str]:
        return control_env(state, role="reconciler")

    def problem(self, state: StackState) -> str | None:
        resp = http_ok(
            f"http://127.0.0.1:{state.ports['consul_http']}/v1/kv/{keys.leader('reconciler')}",
            headers={"X-Consul-Token": acl.consul_token(state, "management")},
        )
        return None if resp is not None and resp.status_code == 200 else "not leading yet"

    def addresses(self, state: StackState) -> dict[str, str]:
        return {}


#: What `botpool up` adds for a complete local system (tests start these themselves).
SYSTEM: tuple[Service, ...] = (TelegramStandin(), YooKassaStandin(), ReconcilerService())
