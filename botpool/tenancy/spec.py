"""What a buyer gives us for one bot, checked where it is built, before anything is stored.

Every entry point (``botpool tenant add``, the sales bot, the operator bot)
builds a ``TenantSpec``; building it validates and normalises every field, so
bad input never reaches Vault, PostgreSQL or a slot (a 10 kB company name once
reached the database, and an unknown time zone made every slot fail the tenant).
Each problem raises ``InvalidTenantSpec`` with one English sentence naming the
field and a stable ``code`` a bot translates into the buyer's language.

The single-field validators are public so a chat can check each answer as the
buyer types it (name, then time zone) and reply at once, with the same rules
the final ``TenantSpec`` applies.

Company name rules, chosen for what a salon owner expects to see in their bot's
greeting and in their receipts:

- surrounding whitespace is trimmed and any run of spaces, tabs or line breaks
  inside becomes one space (a name pasted over two lines is still one name);
- then 1 to 128 characters (Unicode code points, as PostgreSQL counts them);
- any script and emoji are welcome ("Салон «Ромашка» 💅", "美容院", "Nails & Co"),
  text that looks like HTML or SQL is just text (the bots escape it on output);
- at least one letter or digit: a name made only of emoji or punctuation
  ("💅💅", "...") cannot be read aloud, searched for or printed on a receipt,
  so the owner is asked to add a word;
- control characters (NUL, escape, ...) and bidirectional overrides, which can
  disguise what a name shows, are refused rather than silently removed.
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import SecretStr

from botpool.errors import InvalidTenantSpec
from botpool.pool import model

#: The time zone a Russian salon most often has; offered first and used when none is given.
DEFAULT_TIMEZONE = "Europe/Moscow"
#: Languages the tenant bot speaks; Russian by default.
LANGUAGES = ("ru", "en")
DEFAULT_LANGUAGE = "ru"
#: Longest company name, in characters after trimming (the database enforces the same bound).
COMPANY_NAME_MAX = 128
#: Telegram user ids have at most 52 significant bits (Bot API, "Chat.id").
MAX_TELEGRAM_ID = 2**52 - 1

#: BotFather tokens: the bot id, a colon, 35 URL-safe characters (some slack kept for longer secrets).
_BOT_TOKEN = re.compile(r"(\d{5,20}):[A-Za-z0-9_-]{30,64}")
#: Controls folded into one space inside a name (line breaks from a pasted two-line name, tabs); every
#: Unicode space separator (no-break space, em space, line and paragraph separators) is folded too.
_FOLDED_CONTROLS = frozenset("\t\n\r")
#: Bidirectional embeddings, overrides and isolates: they make a name display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
#: Names in the time zone database that are not places (``Factory`` is a placeholder, ``localtime`` a link).
_NOT_ZONES = frozenset({"Factory", "localtime"})


def validate_company_name(text: str) -> str:
    """Return the name as it will be stored and shown (trimmed, spaces folded), or raise ``InvalidTenantSpec``."""
    if not isinstance(text, str):
        raise InvalidTenantSpec("company_name_empty", "company_name", "The company name must be text.")
    folded = "".join(" " if _is_space(ch) else ch for ch in unicodedata.normalize("NFC", text))
    name = " ".join(part for part in folded.split(" ") if part).strip()
    if not name:
        raise InvalidTenantSpec("company_name_empty", "company_name", "The company name is empty.")
    if len(name) > COMPANY_NAME_MAX:
        raise InvalidTenantSpec(
            "company_name_too_long", "company_name",
            f"The company name is too long: at most {COMPANY_NAME_MAX} characters, this one has {len(name)}.",
        )
    if any(_is_control(ch) for ch in name):
        raise InvalidTenantSpec(
            "company_name_control_characters", "company_name",
            "The company name contains control characters; use ordinary letters, digits, punctuation or emoji.",
        )
    if not any(unicodedata.category(ch)[0] in "LN" for ch in name):
        raise InvalidTenantSpec(
            "company_name_needs_letters", "company_name",
            "The company name needs at least one letter or digit (emoji are welcome next to them).",
        )
    return name


def _is_space(ch: str) -> bool:
    return ch in _FOLDED_CONTROLS or unicodedata.category(ch) in ("Zs", "Zl", "Zp")


def _is_control(ch: str) -> bool:
    # Cc: C0/C1 controls (NUL cannot even be stored); Cs: lone surrogates (not encodable as UTF-8).
    # Format characters (Cf) stay allowed: emoji sequences need the zero-width joiner.
    return unicodedata.category(ch) in ("Cc", "Cs") or ch in _BIDI_CONTROLS


@functools.cache
def _zones() -> dict[str, str]:
    """IANA zone names by their case-folded form (reading the database once per process)."""
    return {name.casefold(): name for name in zoneinfo.available_timezones() - _NOT_ZONES}


def validate_timezone(name: str) -> str:
    """Return the canonical IANA name (``europe/moscow`` -> ``Europe/Moscow``), or raise ``InvalidTenantSpec``.

    Checked against the time zone database the way the tenant bot will load it,
    so a zone that passes here is one every slot can use for its schedule.
    """
    if not isinstance(name, str) or not name.strip():
        raise InvalidTenantSpec(
            "timezone_unknown", "timezone", f"The time zone is empty; use an IANA name such as {DEFAULT_TIMEZONE}."
        )
    cleaned = name.strip().replace(" ", "_")
    canonical = _zones().get(cleaned.casefold())
    if canonical is None:
        # Echo a short printable value (it helps spot a typo), never an arbitrary blob.
        shown = f" {cleaned!r}" if len(cleaned) <= 40 and cleaned.isprintable() else ""
        raise InvalidTenantSpec(
            "timezone_unknown", "timezone",
            f"The time zone{shown} is unknown; use an IANA name such as {DEFAULT_TIMEZONE} or Asia/Yekaterinburg.",
        )
    zoneinfo.ZoneInfo(canonical)  # the database lists it, so this loads; fail loudly here if it does not
    return canonical


def validate_language(code: str) -> str:
    """Return ``ru`` or ``en`` (case and spaces ignored), or raise ``InvalidTenantSpec``."""
    cleaned = code.strip().lower() if isinstance(code, str) else ""
    if cleaned not in LANGUAGES:
        raise InvalidTenantSpec(
            "language_unsupported", "language", f"The language must be one of: {', '.join(LANGUAGES)}."
        )
    return cleaned


def validate_admin_telegram_id(value: int) -> int:
    """Return the salon owner's Telegram user id if it can be one, or raise ``InvalidTenantSpec``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_TELEGRAM_ID:
        raise InvalidTenantSpec(
            "admin_telegram_id_invalid", "admin_telegram_id",
            "The admin Telegram id must be a positive whole number (the owner's Telegram user id).",
        )
    return value


def validate_bot_token(token: str | SecretStr) -> SecretStr:
    """Return the token (trimmed) if it has BotFather's shape, or raise ``InvalidTenantSpec`` without echoing it.

    Only the shape is checked here; whether Telegram accepts the token is asked
    with getMe (by the sales bot before payment, by the slot on activation).
    """
    raw = token.get_secret_value() if isinstance(token, SecretStr) else token
    cleaned = raw.strip() if isinstance(raw, str) else ""
    if not _BOT_TOKEN.fullmatch(cleaned):
        raise InvalidTenantSpec(
            "bot_token_malformed", "bot_token",
            "The bot token does not look like a bot token from @BotFather (123456789:AA... : digits, a colon, "
            "then about 35 letters, digits, '-' or '_').",
        )
    return SecretStr(cleaned)


def bot_id_of(token: SecretStr) -> int:
    """Telegram's bot id is the number before the colon of its token (the token must be validated first)."""
    return int(validate_bot_token(token).get_secret_value().split(":", 1)[0])


def validate_tenant_id(tenant_id: str) -> str:
    """Return the tenant id if it has the strict shape schema, role and key names need, or raise."""
    try:
        return model.validate_tenant_id(tenant_id if isinstance(tenant_id, str) else "")
    except ValueError:
        raise InvalidTenantSpec(
            "tenant_id_invalid", "tenant_id",
            "The tenant id must be t_ followed by 6 to 40 lower-case letters or digits.",
        ) from None


def new_tenant_id() -> str:
    """A fresh random tenant id (``t_`` and 12 hex digits) for a new purchase."""
    return f"t_{secrets.token_hex(6)}"


def validate_paid_until(moment: datetime) -> datetime:
    """Return the end of the paid period in UTC; it must carry a time zone and lie in the future."""
    if not isinstance(moment, datetime) or moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidTenantSpec(
            "paid_until_naive", "paid_until", "The end of the paid period must be a time with a time zone."
        )
    if moment <= datetime.now(UTC):
        raise InvalidTenantSpec("paid_until_past", "paid_until", "The end of the paid period is already past.")
    return moment.astimezone(UTC)


@dataclass(frozen=True)
class TenantSpec:
    """A buyer's bot and salon profile, valid by construction: creating one runs every check above.

    Fields hold the normalised values (trimmed name, canonical zone, UTC time),
    so what is stored is exactly what was checked. The token stays a
    ``SecretStr``: the spec's repr and every error leave it out.
    """

    tenant_id: str
    bot_token: SecretStr
    admin_telegram_id: int
    company_name: str
    paid_until: datetime
    timezone: str = DEFAULT_TIMEZONE
    language: str = DEFAULT_LANGUAGE

    def __post_init__(self) -> None:
        # Checked in the order a buyer gives them, so the first problem named is the first they can fix.
        checked = {
            "company_name": validate_company_name(self.company_name),
            "timezone": validate_timezone(self.timezone),
            "language": validate_language(self.language),
            "admin_telegram_id": validate_admin_telegram_id(self.admin_telegram_id),
            "bot_token": validate_bot_token(self.bot_token),
            "tenant_id": validate_tenant_id(self.tenant_id),
            "paid_until": validate_paid_until(self.paid_until),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @classmethod
    def build(
        cls,
        *,
        company_name: str,
        admin_telegram_id: int,
        bot_token: str | SecretStr,
        paid_until: datetime,
        timezone: str = DEFAULT_TIMEZONE,
        language: str = DEFAULT_LANGUAGE,
        tenant_id: str | None = None,
    ) -> TenantSpec:
        """Build a checked spec from raw input (a plain token string, no id yet for a new purchase)."""
        return cls(
            tenant_id=new_tenant_id() if tenant_id is None else tenant_id,
            bot_token=bot_token if isinstance(bot_token, SecretStr) else SecretStr(bot_token),
            admin_telegram_id=admin_telegram_id, company_name=company_name, paid_until=paid_until,
            timezone=timezone, language=language,
        )

    @property
    def bot_id(self) -> int:
        """Telegram's bot id, taken from the token: one bot serves one live tenant."""
        return bot_id_of(self.bot_token)
