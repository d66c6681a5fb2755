"""Settings of the sales bot process: its own bot token, where it listens for YooKassa, and its pacing.

The control plane (Consul, Vault, PostgreSQL, Redis), YooKassa's credentials and the tariffs have their
own settings classes in ``botpool``; this class holds only what is the sales bot's alone. The bot token is
a ``SecretStr``: it never appears in a repr, a log line or an error.
"""

from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings

from botpool.settings import _COMMON


class SalesBotSettings(BaseSettings):
    """What the sales bot alone needs; validated at start so a bad value stops it with one line."""

    model_config = _COMMON
    #: The sales bot's own token (BotFather; "Bot Management" must be enabled for the one-tap purchase).
    token: SecretStr = Field(alias="SALES_BOT_TOKEN")
    #: Where the YooKassa notification endpoint listens (YooKassa reaches it through a proxy in production).
    notify_host: str = Field("127.0.0.1", alias="SALES_NOTIFY_HOST")
    notify_port: int = Field(8090, alias="SALES_NOTIFY_PORT", ge=0, le=65535)
    #: How often orders still activating (no slot was free within the wait) are looked at again.
    watch_interval_s: float = Field(1.0, alias="SALES_WATCH_INTERVAL_S", ge=0.1, le=60.0)
    #: Redis key prefix of the conversation state (FSM): one namespace, shared by every replica.
    fsm_prefix: str = Field("sales", alias="SALES_FSM_PREFIX", pattern=r"^[a-z0-9_]{1,32}$")
    #: How long an activation waits for a free slot before the buyer is told "being prepared".
    pool_wait_s: float = Field(60.0, alias="SALES_POOL_WAIT_S", ge=1.0, le=600.0)
    log_level: str = Field("INFO", alias="BOTPOOL_LOG_LEVEL")
