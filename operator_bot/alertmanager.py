"""``POST /alertmanager``: Alertmanager's webhook receiver, so Prometheus alerts reach the admins in Telegram.

The body is Alertmanager's webhook JSON (version "4"), validated with a pydantic model where it enters:
anything else is answered 400 with one sentence and nothing is sent. Each alert in it is pushed once per
episode: a firing alert is named by its ``fingerprint`` and ``startsAt`` (the same alert firing again
later is a new episode with a new ``startsAt``), its resolution by the same pair, so Alertmanager's
``repeat_interval`` resends and its retries tell nobody twice (``operator_bot.delivery``).

A failure to reach Telegram is answered 503, so Alertmanager retries the webhook; what was already
delivered is not sent again. With ``OPERATOR_WEBHOOK_TOKEN`` set, a request must carry it as a bearer
token (Alertmanager's ``http_config.authorization``).
"""

from __future__ import annotations

import hmac
from typing import Literal

import structlog
from aiohttp import web
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError

from botpool.errors import DependencyUnavailable
from botpool.i18n import N_
from operator_bot.delivery import Notifier
from operator_bot.texts import OperatorTr

log = structlog.get_logger("operator_bot.alertmanager")

#: Far above any real notification (Alertmanager groups at most a few hundred alerts).
MAX_BODY_BYTES = 1 << 20


class AmAlert(BaseModel):
    """One alert of the webhook's ``alerts`` list (the fields this bot reads; others are ignored)."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: AwareDatetime  # Alertmanager's field name
    fingerprint: str = Field(pattern=r"^[0-9a-f]{1,64}$")


class AmPayload(BaseModel):
    """Alertmanager's webhook body, version 4."""

    model_config = ConfigDict(extra="ignore", hide_input_in_errors=True)

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    alerts: list[AmAlert] = Field(min_length=1, max_length=1000)


def episode(alert: AmAlert) -> str:
    """The event name of this alert's firing or resolution (one per episode)."""
    started = int(alert.startsAt.timestamp() * 1000)
    return f"am-{alert.fingerprint}-{started}-{alert.status}"


def render(tr: OperatorTr, alert: AmAlert) -> str:
    """The admins' message: what fired (or cleared), how bad, and Alertmanager's own summary."""
    name = alert.labels.get("alertname", "alert")
    summary = alert.annotations.get("summary") or alert.annotations.get("description") or ""
    labels = ", ".join(f"{k}={v}" for k, v in sorted(alert.labels.items()) if k not in ("alertname", "severity"))
    key = N_("am_firing") if alert.status == "firing" else N_("am_resolved")
    return tr(key, name=name, severity=alert.labels.get("severity", "—"), summary=summary, labels=labels or "—")


class AlertmanagerReceiver:
    """The aiohttp handler: validate, push each alert once, answer Alertmanager."""

    def __init__(self, notifier: Notifier, tr: OperatorTr, token: str | None = None) -> None:
        """Keep the notifier, the texts' language and the bearer token (None: no token asked)."""
        self.notifier = notifier
        self.tr = tr
        self.token = token

    def add_routes(self, app: web.Application) -> None:
        """Register ``POST /alertmanager``."""
        app.router.add_post("/alertmanager", self.handle)

    async def handle(self, request: web.Request) -> web.Response:
        """One webhook call."""
        if self.token is not None:
            given = request.headers.get("Authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {self.token}".encode()):
                return web.json_response({"error": "a valid bearer token is required"}, status=401)
        try:
            payload = AmPayload.model_validate_json(await request.read())
        except ValidationError as exc:
            where = "; ".join(".".join(str(p) for p in e["loc"]) or "body" for e in exc.errors()[:5])
            log.warning("malformed alertmanager webhook refused", problems=where)
            return web.json_response(
                {"error": f"not an Alertmanager webhook (version 4) body: check {where}"}, status=400
            )
        told, failed = 0, False
        for alert in payload.alerts:
            try:
                told += await self.notifier.push(episode(alert), render(self.tr, alert))
            except DependencyUnavailable:
                failed = True
        if failed:
            return web.json_response({"error": "Telegram unreachable; retry"}, status=503)
        return web.json_response({"ok": True, "delivered": told})
