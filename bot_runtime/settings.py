"""Settings of a pool slot: its identity from Nomad, and where the shared services are.

A slot has no database or Redis admin credentials: all it ever receives for a
tenant arrives through the wrapped handoff. Its one credential is the Vault
token Nomad derives from the allocation's workload identity and keeps in
``${NOMAD_SECRETS_DIR}/vault_token``; it opens only this allocation's handoffs
(vault-policies/botpool-slot.hcl).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import AnyHttpUrl, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from botpool import settings as cfg


class RuntimeSettings(BaseSettings):
    """Everything a slot needs before it is assigned; validated at start (through ``botpool.settings.load``)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    alloc_id: str = Field(alias="NOMAD_ALLOC_ID", min_length=8)
    alloc_index: int = Field(alias="NOMAD_ALLOC_INDEX", ge=0)
    health_port: int = Field(alias="NOMAD_PORT_http", ge=1, le=65535)
    #: The address Nomad gave the slot's port; shown as the address of the slot's catalog node.
    advertise_address: str = Field("127.0.0.1", alias="NOMAD_IP_http")
    consul_addr: AnyHttpUrl = Field(AnyHttpUrl("http://127.0.0.1:8500"), alias="CONSUL_HTTP_ADDR")
    vault_addr: AnyHttpUrl = Field(AnyHttpUrl("http://127.0.0.1:8200"), alias="VAULT_ADDR")
    vault_kv_mount: str = Field("secret", alias="BOTPOOL_VAULT_KV_MOUNT")
    #: The task's secrets directory, where Nomad writes (and renews) the allocation's own Vault token.
    secrets_dir: Path = Field(alias="NOMAD_SECRETS_DIR")
    telegram_api_base: AnyHttpUrl = Field(AnyHttpUrl("https://api.telegram.org"), alias="TELEGRAM_API_BASE")
    tenant_pg_host: str = Field("127.0.0.1", alias="BOTPOOL_TENANT_PG_HOST")
    tenant_pg_port: int = Field(5432, alias="BOTPOOL_TENANT_PG_PORT")
    tenant_pg_database: str = Field("botpool", alias="BOTPOOL_TENANT_PG_DATABASE")
    tenant_redis_host: str = Field("127.0.0.1", alias="BOTPOOL_TENANT_REDIS_HOST")
    tenant_redis_port: int = Field(6379, alias="BOTPOOL_TENANT_REDIS_PORT")
    #: Updates one Telegram user may send per minute before the bot asks them to slow down.
    user_rate_per_min: int = Field(60, alias="BOTPOOL_USER_RATE_PER_MIN", ge=1)
    #: Updates one tenant bot handles per second in total (protects the shared database).
    tenant_rate_per_s: int = Field(300, alias="BOTPOOL_TENANT_RATE_PER_S", ge=1)
    log_level: str = Field("INFO", alias="BOTPOOL_LOG_LEVEL")
    #: Import the tenant side while waiting (about 14 MB per slot) so an activation does not pay for it.
    prewarm: bool = Field(True, alias="SLOT_PREWARM")
    #: After its tenant is released, a slot that stayed bigger than when it was fresh by more than
    #: ``recycle_growth_mb`` (after giving back what it can, ``bot_runtime.memory.trim``) starts afresh in
    #: the same process (exec) instead of waiting on as it is; 0 starts afresh after every tenant. Without
    #: it, slots grew with every tenant they served (209 MB after 60 tenants against 181 MB fresh). A
    #: fresh start costs about 1.5 s of CPU, hence a threshold rather than every time. See ``Slot.run``.
    recycle: bool = Field(True, alias="SLOT_RECYCLE")
    recycle_growth_mb: float = Field(10.0, alias="SLOT_RECYCLE_GROWTH_MB", ge=0)

    @property
    def vault_token_file(self) -> Path:
        """Where the allocation's Vault token is; read at each use, since Nomad may replace it."""
        return self.secrets_dir / "vault_token"

    def consul(self) -> cfg.ConsulSettings:
        """The slot's Consul agent as botpool's Consul settings (a token, if any, still comes from the environment)."""
        return cfg.ConsulSettings(CONSUL_HTTP_ADDR=self.consul_addr)
