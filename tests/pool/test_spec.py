"""A tenant specification is checked where it is built: one clear sentence and a stable code per problem.

No services needed: this is what every entry point (CLI, sales bot, operator
bot) relies on before it stores anything.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import SecretStr

from botpool.errors import InvalidTenantSpec
from botpool.tenancy import spec
from botpool.tenancy.spec import TenantSpec

TOKEN = "7012345678:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


def build(**changes: Any) -> TenantSpec:
    values: dict[str, Any] = {
        "company_name": "Barber One", "admin_telegram_id": 42, "bot_token": TOKEN,
        "paid_until": datetime.now(UTC) + timedelta(days=30),
    }
    values.update(changes)
    return TenantSpec.build(**values)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("  Салон «Ромашка» 💅  ", "Салон «Ромашка» 💅"),
        ("美容院", "美容院"),
        ("Nails\n& Co", "Nails & Co"),  # a name pasted over two lines is one name
        ("Spa\t \u00a0 Relax", "Spa Relax"),
        ("<b>Studio</b>'; DROP TABLE tenants; --", "<b>Studio</b>'; DROP TABLE tenants; --"),
        ("👩\u200d🔧 Fix", "👩\u200d🔧 Fix"),  # the zero-width joiner of an emoji sequence stays
        ("7", "7"),
        ("x" * 128, "x" * 128),
    ],
)
def test_company_names_a_salon_owner_would_type_are_kept(typed: str, stored: str) -> None:
    assert spec.validate_company_name(typed) == stored
    assert build(company_name=typed).company_name == stored


@pytest.mark.parametrize(
    ("typed", "code"),
    [
        ("", "company_name_empty"),
        (" \n\t ", "company_name_empty"),
        ("x" * 129, "company_name_too_long"),
        ("Я" * 10_000, "company_name_too_long"),
        ("💅💅💅", "company_name_needs_letters"),
        ("...", "company_name_needs_letters"),
        ("Bad\x00Name", "company_name_control_characters"),
        ("Salon\x1b[31m", "company_name_control_characters"),
        ("Salon \u202eenoR", "company_name_control_characters"),
        ("Salon \ud800", "company_name_control_characters"),
    ],
)
def test_unusable_company_names_get_one_sentence_naming_the_field(typed: str, code: str) -> None:
    with pytest.raises(InvalidTenantSpec) as caught:
        build(company_name=typed)
    assert caught.value.code == code
    assert caught.value.field == "company_name"
    message = str(caught.value)
    assert message.startswith("The company name") and message.endswith(".") and "\n" not in message
    assert len(message) < 160, "one sentence, not the input echoed back"


def test_too_long_names_say_the_limit_and_the_length() -> None:
    with pytest.raises(InvalidTenantSpec, match="at most 128 characters, this one has 10000"):
        spec.validate_company_name("a" * 10_000)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("Europe/Moscow", "Europe/Moscow"), (" asia/yekaterinburg ", "Asia/Yekaterinburg"),
     ("America/New York", "America/New_York"), ("UTC", "UTC")],
)
def test_iana_time_zones_are_accepted_in_canonical_form(typed: str, stored: str) -> None:
    assert spec.validate_timezone(typed) == stored
    assert build(timezone=typed).timezone == stored


@pytest.mark.parametrize("typed", ["Mars/Olympus", "", "Moscow", "+03:00", "../../etc/passwd", "Factory", "x" * 500])
def test_unknown_time_zones_are_refused(typed: str) -> None:
    with pytest.raises(InvalidTenantSpec) as caught:
        build(timezone=typed)
    assert caught.value.code == "timezone_unknown"
    assert "Europe/Moscow" in str(caught.value), "the sentence shows what a valid zone looks like"
    assert "x" * 41 not in str(caught.value)


def test_the_default_is_moscow_time_and_russian() -> None:
    built = build()
    assert (built.timezone, built.language) == ("Europe/Moscow", "ru")
    assert build(language=" EN ").language == "en"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"language": "de"}, "language_unsupported"),
        ({"admin_telegram_id": 0}, "admin_telegram_id_invalid"),
        ({"admin_telegram_id": -5}, "admin_telegram_id_invalid"),
        ({"admin_telegram_id": True}, "admin_telegram_id_invalid"),
        ({"admin_telegram_id": 2**63}, "admin_telegram_id_invalid"),
        ({"tenant_id": "T_UPPER"}, "tenant_id_invalid"),
        ({"tenant_id": "t_abc; drop"}, "tenant_id_invalid"),
        ({"paid_until": datetime(2099, 1, 1)}, "paid_until_naive"),  # no time zone
        ({"paid_until": datetime.now(UTC) - timedelta(seconds=1)}, "paid_until_past"),
    ],
)
def test_other_fields_are_checked_before_anything_is_stored(changes: dict[str, Any], code: str) -> None:
    with pytest.raises(InvalidTenantSpec) as caught:
        build(**changes)
    assert caught.value.code == code
    assert isinstance(caught.value, ValueError), "callers that catch ValueError keep working"


@pytest.mark.parametrize(
    "token",
    ["not-a-token", "123:abc", "7012345678:short", f"{TOKEN} extra", "7012345678:" + "é" * 35, TOKEN + "!"],
)
def test_malformed_tokens_are_refused_without_echoing_them(token: str) -> None:
    with pytest.raises(InvalidTenantSpec) as caught:
        build(bot_token=token)
    assert caught.value.code == "bot_token_malformed"
    assert "does not look like a bot token" in str(caught.value)
    assert token not in str(caught.value) and token.split(":")[-1] not in str(caught.value)


def test_a_valid_spec_is_normalised_and_keeps_the_token_secret() -> None:
    paid = datetime(2099, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
    built = TenantSpec(
        tenant_id="t_abc123", bot_token=SecretStr(f"  {TOKEN}\n"), admin_telegram_id=42,
        company_name=" Barber  One ", paid_until=paid, timezone="europe/moscow",
    )
    assert built.bot_token.get_secret_value() == TOKEN
    assert built.bot_id == 7012345678
    assert built.company_name == "Barber One"
    assert built.paid_until == paid and built.paid_until.tzinfo is UTC
    assert TOKEN not in repr(built) and TOKEN.split(":")[1] not in repr(built)


def test_build_gives_a_new_purchase_a_fresh_valid_id() -> None:
    first, second = build(), build()
    assert first.tenant_id != second.tenant_id
    assert spec.validate_tenant_id(first.tenant_id) == first.tenant_id
