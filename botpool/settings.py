"""Settings for every botpool service, read from the environment or a ``.env`` file.

Each backing service has its own small settings class so a process loads only
what it uses (the bot runtime needs no Nomad token; the scaler needs no
YooKassa key). The HashiCorp addresses use the variable names the official
CLIs use (``CONSUL_HTTP_ADDR``, ``VAULT_ADDR``, ``NOMAD_ADDR``), so an operator
points botpool at an existing cluster exactly as they point ``nomad`` at it.
Secrets are ``SecretStr``: they never show in a repr, a log line or an error.
"""

from __future__ import annotations

from typing import TypeVar

from pydantic import AnyHttpUrl, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from botpool.errors import ConfigurationError

_COMMON = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


class ConsulSettings(BaseSettings):
    """Where the Consul agent is: pool state, slot health and leader locks live there."""

    model_config = _COMMON
    http_addr: AnyHttpUrl = Field(AnyHttpUrl("http://127.0.0.1:8500"), alias="CONSUL_HTTP_ADDR")
    token: SecretStr | None = Field(None, alias="CONSUL_HTTP_TOKEN")


class VaultSettings(BaseSettings):
    """Where Vault is and the KV v2 mount holding tenant bot tokens."""

    model_config = _COMMON
    addr: AnyHttpUrl = Field(AnyHttpUrl("http://127.0.0.1:8200"), alias="VAULT_ADDR")
    token: SecretStr | None = Field(None, alias="VAULT_TOKEN")
    kv_mount: str = Field("secret", alias="BOTPOOL_VAULT_KV_MOUNT", pattern=r"^[a-z0-9_-]+$")


class NomadSettings(BaseSettings):
    """Where the Nomad API is, for the scaler and for submitting the pool job."""

    model_config = _COMMON
    addr: AnyHttpUrl = Field(AnyHttpUrl("http://127.0.0.1:4646"), alias="NOMAD_ADDR")
    token: SecretStr | None = Field(None, alias="NOMAD_TOKEN")
    namespace: str = Field("default", alias="NOMAD_NAMESPACE")


class DatabaseSettings(BaseSettings):
    """The control-plane PostgreSQL database (tenants, orders); a DSN carries a password, so it is secret."""

    model_config = _COMMON
    url: SecretStr = Field(alias="BOTPOOL_DATABASE_URL")


class RedisSettings(BaseSettings):
    """The Redis server for FSM state and rate limits; the URL carries a password, so it is secret."""

    model_config = _COMMON
    url: SecretStr = Field(alias="BOTPOOL_REDIS_URL")


class TelegramSettings(BaseSettings):
    """The Bot API server: Telegram in production, the local stand-in in tests and demos."""

    model_config = _COMMON
    api_base: AnyHttpUrl = Field(AnyHttpUrl("https://api.telegram.org"), alias="TELEGRAM_API_BASE")


S = TypeVar("S", bound=BaseSettings)


def load(cls: type[S]) -> S:
    """Build a settings object or raise ``ConfigurationError`` naming each bad variable.

    pydantic's own message lists model field paths and input values; an operator
    needs the environment variable's name and what is wrong with it, and must
    never see a secret's value echoed back.
    """
    try:
        return cls()
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            info = cls.model_fields.get(field)
            name = (info.alias if info is not None and info.alias else field).upper()
            problems.append(f"{name}: {err['msg']}")
        raise ConfigurationError(f"{cls.__name__} is invalid: " + "; ".join(problems)) from None
