"""One typed exception hierarchy for every botpool service.

Callers catch ``BotpoolError`` (or a narrower subclass) at the edge of a user
interaction and turn it into a clear message; nothing below that edge needs to
know how the message is worded. Messages never contain secrets: constructors
take identifiers (tenant id, slot index, path), never tokens.
"""

from __future__ import annotations


class BotpoolError(Exception):
    """Base of every error botpool raises on purpose, so callers can tell ours from bugs."""


class ConfigurationError(BotpoolError):
    """Settings are missing or malformed; raised at start so a service never runs half-configured."""


class DependencyUnavailable(BotpoolError):
    """A backing service (Consul, Vault, Nomad, PostgreSQL, Redis) cannot be reached or is unhealthy."""


class PoolExhausted(BotpoolError):
    """No free healthy slot could be claimed; the caller should wait for the scaler and retry."""


class ClaimConflict(BotpoolError):
    """A check-and-set lost a race; the caller retries with fresh state."""


class TenantError(BotpoolError):
    """A tenant operation failed in a way the operator or buyer must be told about."""


class ActivationFailed(TenantError):
    """A slot did not acknowledge an activation in time, or refused it."""


class HandoffRefused(BotpoolError):
    """A wrapped bot token failed verification (wrong creation path, expired, already unwrapped)."""


class InvalidBotToken(TenantError):
    """Telegram rejected a bot token (getMe failed); the buyer must supply another."""
