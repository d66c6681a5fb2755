"""Every key the booking code uses is in every catalog and every entry is used; languages agree; formats hold."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from bot_runtime.booking.texts import LANGUAGES, Tr, esc
from botpool.i18n import used_keys

PACKAGE = Path(__file__).resolve().parents[2] / "bot_runtime" / "booking"
LOCALES = PACKAGE / "locales"


def po(lang: str) -> Catalog:
    with (LOCALES / lang / "LC_MESSAGES" / "booking.po").open("rb") as fileobj:
        return read_po(fileobj)


def entries(catalog: Catalog) -> dict[str, str]:
    """Message id -> text, without the header."""
    return {str(m.id): str(m.string) for m in catalog if m.id}


def placeholders(template: str) -> set[str]:
    """Names substituted into a text, which both languages must share."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


USED = used_keys(PACKAGE, LOCALES / "babel.cfg")


def test_the_extraction_sees_every_way_the_code_passes_a_key() -> None:
    # One key per call shape, so a weaker extraction fails here rather than passing quietly.
    shapes = {
        "welcome": "tr(...)",
        "cancelled_action": "tr(a if c else b)",
        "booked_pending": "key = a if c else b; tr(key)",
        "err_date": "ParseError(...)",
        "btn_book": "all_variants(...)",
        "n_client_moved_by_salon": "notify_client(conn, booking, key)",
        "a_pending": "alert_admins(conn, a if c else b, ...)",
        "sb_step": "a settings table",
        "ask_category": "a prompt table",
        "lang_set": "new_tr(...)",
        "status_no_show": "N_ in texts.py",
        "too_late": "a storage result code, N_ in texts.py",
        "weekday_7": "N_ in texts.py",
    }
    assert sorted(key for key in shapes if key not in USED) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_key_used_in_code_is_in_the_catalog(lang: str) -> None:
    missing = {key: where for key, where in USED.items() if key not in entries(po(lang))}
    assert missing == {}


def test_every_catalog_entry_is_used_in_code() -> None:
    # A text nobody shows is dead weight for translators, or a sign that the extraction missed a call shape.
    assert sorted(set(entries(po("ru"))) - set(USED)) == []


def test_languages_have_the_same_ids_and_placeholders() -> None:
    ru, en = entries(po("ru")), entries(po("en"))
    assert set(ru) == set(en)
    assert [key for key in ru if placeholders(ru[key]) != placeholders(en[key])] == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_entry_is_empty_fuzzy_or_obsolete(lang: str) -> None:
    catalog = po(lang)
    assert [str(m.id) for m in catalog if m.id and (not m.string or m.fuzzy)] == []
    assert not catalog.fuzzy
    assert list(catalog.obsolete) == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_matches_its_source(lang: str) -> None:
    # The .mo files are committed so a clone, the image and the wheel work without a build step.
    with (LOCALES / lang / "LC_MESSAGES" / "booking.mo").open("rb") as fileobj:
        compiled = read_mo(fileobj)
    assert entries(compiled) == entries(po(lang)), "run `make texts` to recompile the catalogs"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_text_renders_with_its_placeholders(lang: str) -> None:
    tr = Tr(lang)
    for key, template in entries(po(lang)).items():
        text = tr(key, **{name: "<x>" for name in placeholders(template)})
        assert "{" not in text and "}" not in text, key


def test_values_are_escaped_for_telegram_html() -> None:
    tr = Tr("en")
    text = tr("my_line", when="<b>", title="A & B", master="<i>x</i>", status="")
    assert "&lt;b&gt;" in text and "A &amp; B" in text and "<i>" not in text
    assert tr("broadcast_header", company="C", text=esc("<script>")).endswith("&lt;script&gt;")


def test_formats() -> None:
    ru, en = Tr("ru"), Tr("en")
    assert ru.duration(90) == "1 ч 30 мин" and en.duration(1440) == "24 h" and en.duration(2880) == "2 d"
    assert ru.price(Decimal(1500)) == "1 500 ₽"
    assert en.price(Decimal(1500), Decimal(2500)) == "1 500–2 500 ₽"
    assert en.price(Decimal(0)) == "free" and ru.price(Decimal("1234.50")) == "1 234.50 ₽"
    assert Tr("de").lang == "ru"


def test_dates_and_statuses_read_naturally_in_each_language() -> None:
    ru, en = Tr("ru"), Tr("en")
    assert ru.day(date(2025, 3, 11)) == "Вт, 11 марта" and en.day(date(2025, 3, 11)) == "Tue, 11 Mar"
    assert ru.month_title(2025, 3) == "Март 2025" and en.month_title(2025, 12) == "December 2025"
    assert ru.weekday_names()[0] == "Пн" and en.weekday_names()[-1] == "Sun"
    instant = datetime(2025, 3, 11, 12, 0, tzinfo=UTC)
    assert ru.when(instant, ZoneInfo("Europe/Moscow")) == "Вт, 11 марта, 15:00"
    assert ru.status("pending") == "ждёт подтверждения" and en.status("no_show") == "no-show"
    assert ru.day_short(date(2025, 3, 1)) == "01.03"
