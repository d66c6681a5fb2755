"""What a slot receives for a tenant, as stored in Vault and unwrapped by the slot.

One KV v2 secret per tenant (``secret/data/tenants/<id>/bot``) holds the bot
token, the tenant's own database and Redis passwords and its profile, so a
single verified unwrap gives the slot everything it needs and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import SecretStr

from botpool.pool.model import validate_tenant_id


def secret_path(tenant_id: str) -> str:
    """The tenant's KV path (under the KV v2 mount)."""
    return f"tenants/{validate_tenant_id(tenant_id)}/bot"


def pending_path(tenant_id: str) -> str:
    """The KV path (under the mount) of a pasted token the sales bot keeps until the order is paid."""
    return f"tenants/{validate_tenant_id(tenant_id)}/pending"


def creation_path(mount: str, tenant_id: str) -> str:
    """The exact creation path a genuine wrapped read of the tenant's secret reports."""
    return f"{mount}/data/{secret_path(tenant_id)}"


@dataclass(frozen=True)
class TenantPackage:
    """Credentials and profile of one tenant; secrets are ``SecretStr`` and never printed."""

    tenant_id: str
    bot_token: SecretStr
    db_password: SecretStr
    redis_password: SecretStr
    admin_telegram_id: int
    company_name: str
    timezone: str = "Europe/Moscow"
    language: str = "ru"

    def to_vault(self) -> dict[str, str]:
        """The KV data written to Vault."""
        return {
            "tenant_id": self.tenant_id,
            "bot_token": self.bot_token.get_secret_value(),
            "db_password": self.db_password.get_secret_value(),
            "redis_password": self.redis_password.get_secret_value(),
            "admin_telegram_id": str(self.admin_telegram_id),
            "company_name": self.company_name,
            "timezone": self.timezone,
            "language": self.language,
        }

    @classmethod
    def from_vault(cls, data: dict[str, Any]) -> TenantPackage:
        """Parse unwrapped KV data."""
        return cls(
            tenant_id=validate_tenant_id(str(data["tenant_id"])),
            bot_token=SecretStr(str(data["bot_token"])),
            db_password=SecretStr(str(data["db_password"])),
            redis_password=SecretStr(str(data["redis_password"])),
            admin_telegram_id=int(data["admin_telegram_id"]),
            company_name=str(data["company_name"]),
            timezone=str(data.get("timezone") or "Europe/Moscow"),
            language=str(data.get("language") or "ru"),
        )
