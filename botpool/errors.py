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


class AccessDenied(BotpoolError):
    """A backing service refused this process's token (an ACL policy lacks a permission).

    Its own class because it repeats on every try: retrying it as a lost race
    would hide a misconfiguration behind "no free slot" until a deadline.
    """


class PoolExhausted(BotpoolError):
    """No free healthy slot could be claimed; the caller should wait for the scaler and retry."""


class ClaimConflict(BotpoolError):
    """A check-and-set lost a race; the caller retries with fresh state."""


class TenantError(BotpoolError):
    """A tenant operation failed in a way the operator or buyer must be told about."""


class ActivationFailed(TenantError):
    """A slot refused an activation for good (Telegram rejected the token); the buyer must act."""


class ActivationPending(TenantError):
    """No slot took the tenant within the whole wait; it stays durable in 'activating' and will be served.

    Not a failure: the reconciler finishes the activation as soon as a slot is
    free, so an entry point tells the buyer "your bot is being prepared", never
    "failed". ``tenant_id`` names the tenant so the caller can follow it up.
    """

    def __init__(self, tenant_id: str, message: str, *, slot_failures: int = 0) -> None:
        super().__init__(message)
        self.tenant_id = tenant_id
        #: Slots that took the tenant and failed it (0: none was free); the reconciler bounds these rounds.
        self.slot_failures = slot_failures


class TenantSecretMissing(TenantError):
    """The tenant's secret (bot token and credentials) is not in Vault, so no slot can ever be handed it.

    Left by a crash after the tenant row was written and before the secret was:
    the token existed only in the crashed process. Retrying cannot help; the
    tenant is marked failed and an operator is alerted (the buyer must send it again).
    """


class InvalidTenantSpec(TenantError, ValueError):
    """A tenant's specification (name, time zone, language, admin, token, id) is unusable; nothing was stored.

    Raised where the specification is built, before anything is written, so
    every entry point (operator CLI, sales bot, operator bot) shows the same one
    sentence. ``code`` is stable (e.g. ``company_name_too_long``) so a bot can
    answer in the buyer's language; ``field`` names the offending field. The
    message is English, names the field, and never contains a bot token.
    """

    def __init__(self, code: str, field: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.field = field


class HandoffRefused(BotpoolError):
    """A wrapped bot token failed verification (wrong creation path, expired, already unwrapped)."""


class HandoffUnavailable(HandoffRefused):
    """The slot could not complete a handoff for want of Vault (unreachable, erroring, or refusing its own token).

    Kept apart from a refusal proper because it proves nothing about tampering:
    treated as a theft it would raise a false alert and rotate every credential
    of each tenant activated during a Vault restart. The attempt fails and the
    activator retries; nothing is rotated.
    """


class InvalidBotToken(TenantError):
    """Telegram rejected a bot token (getMe failed); the buyer must supply another."""
