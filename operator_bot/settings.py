"""Settings of the operator bot process: its token, who its admins are, where Alertmanager reaches it, the pool.

Consul, Nomad and the control database have their own settings classes in ``botpool``; this class holds
only what is the operator bot's alone. The admin list is validated at start (a typo would otherwise lock
every operator out, or let nobody in, silently).
"""

from __future__ import annotations

from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode

from botpool import jobspec
from botpool.settings import _COMMON


class OperatorBotSettings(BaseSettings):
    """What the operator bot alone needs; validated at start so a bad value stops it with one line."""

    model_config = _COMMON
    #: The operator bot's own token (BotFather), never the sales bot's.
    token: SecretStr = Field(alias="OPERATOR_BOT_TOKEN")
    #: Telegram user ids allowed to use the bot and told about alerts: "123,456".
    admins: Annotated[frozenset[int], NoDecode] = Field(alias="OPERATOR_ADMINS")
    #: Where the Alertmanager webhook endpoint (``POST /alertmanager``) listens.
    webhook_host: str = Field("127.0.0.1", alias="OPERATOR_WEBHOOK_HOST")
    webhook_port: int = Field(8091, alias="OPERATOR_WEBHOOK_PORT", ge=0, le=65535)
    #: If set, Alertmanager must send it as a bearer token (its ``http_config.authorization``).
    webhook_token: SecretStr | None = Field(None, alias="OPERATOR_WEBHOOK_TOKEN")
    #: The language of pushed alerts (commands answer in each admin's Telegram language).
    language: str = Field("ru", alias="OPERATOR_LANGUAGE", pattern=r"^(ru|en)$")
    #: The scaler's cap, which ``/scale`` honours like ``botpool scale`` (same variable as the scaler's).
    max_total: int = Field(100, alias="MAX_TOTAL_BOTS", ge=1, le=10000)
    job: str = Field(jobspec.POOL.id, alias="BOTPOOL_POOL_JOB", min_length=1)
    group: str = Field(jobspec.POOL.group, alias="BOTPOOL_POOL_GROUP", min_length=1)
    #: The business's day for ``/orders`` ("today") and the times shown.
    timezone: str = Field("Europe/Moscow", alias="OPERATOR_TIMEZONE")
    #: The currency revenue is reported in (orders in another currency are listed apart, never summed in).
    currency: str = Field("RUB", alias="OPERATOR_CURRENCY", pattern=r"^[A-Z]{3}$")
    #: Wait of each Consul blocking query on the alerts prefix.
    alert_wait: str = Field("30s", alias="OPERATOR_ALERT_WAIT", pattern=r"^[1-9][0-9]{0,2}s$")
    log_level: str = Field("INFO", alias="BOTPOOL_LOG_LEVEL")

    @field_validator("admins", mode="before")
    @classmethod
    def _admin_ids(cls, value: object) -> object:
        """"123, 456" → {123, 456}; anything that is not a positive Telegram user id is refused."""
        if not isinstance(value, str):
            return value
        ids = set()
        for part in value.split(","):
            text = part.strip()
            if not text:
                continue
            if not text.isdecimal() or not text.isascii() or int(text) <= 0:
                raise ValueError("expected comma-separated Telegram user ids (positive integers)")
            ids.add(int(text))
        if not ids:
            raise ValueError("at least one Telegram user id is needed")
        return frozenset(ids)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        """An IANA zone name Python knows."""
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("expected an IANA time zone such as Europe/Moscow") from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.timezone)
