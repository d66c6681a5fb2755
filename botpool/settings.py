"""Settings for every botpool service, read from the environment or a ``.env`` file.

Each backing service has its own small settings class so a process loads only
what it uses (the bot runtime needs no Nomad token; the scaler needs no
YooKassa key). The HashiCorp addresses use the variable names the official
CLIs use (``CONSUL_HTTP_ADDR``, ``VAULT_ADDR``, ``NOMAD_ADDR``), so an operator
points botpool at an existing cluster exactly as they point ``nomad`` at it.
Secrets are ``SecretStr``: they never show in a repr, a log line or an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

from pydantic import AliasChoices, AnyHttpUrl, Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from botpool.errors import ConfigurationError

_COMMON = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")


class ConsulSettings(BaseSettings):
    """Where the Consul agent is: pool state, slot health and leader locks live there."""

    model_config = _COMMON
    http_addr: AnyHttpUrl = Field(AnyHttpUrl("http://127.0.0.1:8500"), alias="CONSUL_HTTP_ADDR")
    #: The operator's CONSUL_HTTP_TOKEN, or CONSUL_TOKEN: where Nomad puts a task's token from its workload identity.
    token: SecretStr | None = Field(
        None, alias="CONSUL_HTTP_TOKEN", validation_alias=AliasChoices("CONSUL_HTTP_TOKEN", "CONSUL_TOKEN")
    )


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


def load(cls: type[S], env: Mapping[str, str] | None = None) -> S:
    """Build a settings object or raise ``ConfigurationError`` naming each bad variable.

    This is the one settings loader of every entry point, so an operator reads
    one style of message whichever process refused to start. pydantic's own
    message lists model field paths and input values; an operator needs the
    environment variable's name and what is wrong with it, and must never see
    a secret's value echoed back. A check across fields (a model validator)
    carries its own sentence, which already names the variables.

    With ``env`` the values come from that mapping alone (defaults still apply),
    not from the process environment or ``.env``: tests and the benchmark
    harness describe a stack by its variables without exporting them.
    """
    try:
        return cls() if env is None else cls.model_validate(dict(env))
    except ValidationError as exc:
        raise ConfigurationError("invalid settings: " + "; ".join(_problems(cls, exc))) from None


def _problems(cls: type[BaseSettings], exc: ValidationError) -> list[str]:
    """One ``VARIABLE: what is wrong`` per error, never the rejected value."""
    problems = []
    for err in exc.errors():
        if not err["loc"]:
            problems.append(str(err["msg"]).removeprefix("Value error, "))
            continue
        problems.append(f"{_variable(cls, str(err['loc'][0]))}: {err['msg']}")
    return problems


def _variable(cls: type[BaseSettings], loc: str) -> str:
    """The environment variable behind an error location (pydantic reports a field name or its alias)."""
    info = cls.model_fields.get(loc)
    if info is not None and info.alias:
        return info.alias
    aliases = {field.alias for field in cls.model_fields.values() if field.alias}
    return loc if loc in aliases else loc.upper()
