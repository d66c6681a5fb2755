"""Which slot refusals count as a stolen handoff (and rotate the tenant's credentials), and which do not."""

from __future__ import annotations

import pytest

from botpool.tenancy.rotation import is_theft


@pytest.mark.parametrize(
    "error",
    [
        "handoff_refused: wrapping token lookup refused (InvalidRequest)",  # used (or expired) before the slot
        "handoff_refused: wrapping token was created at 'sys/wrapping/wrap', expected 'secret/data/tenants/t_x/bot'",
        "handoff_refused: unwrap failed: InvalidRequest",  # someone unwrapped between the lookup and the unwrap
        "handoff_refused: unwrapped secret belongs to t_other, claim names t_victim",
    ],
)
def test_a_used_or_forged_handoff_is_a_theft(error: str) -> None:
    assert is_theft(error)


@pytest.mark.parametrize(
    "error",
    [
        "handoff_refused: wrapping lookup failed: ConnectionError",  # Vault unreachable: nothing was read
        "handoff_refused: unwrap failed: ReadTimeout",
        "handoff_unavailable: the handoff could not be read (ConnectionError)",  # Vault down while the slot read
        "handoff_unavailable: Vault refused this slot's token the read of its own handoff",
        "handoff_missing: no handoff arrived for attempt 0f within 10 s",  # the activator died before delivering
        "invalid_token: Telegram rejected the bot token of tenant t_x",
        "start_failed: the database refused the connection",
        "",
        None,
    ],
)
def test_an_unreachable_vault_or_another_failure_is_not(error: str | None) -> None:
    assert not is_theft(error)
