"""All texts exist in Russian and English with the same placeholders, and every key the code uses exists."""

from __future__ import annotations

import re
import string
from pathlib import Path

from bot_runtime.booking.texts import EN, RU, Tr, esc

PACKAGE = Path(__file__).resolve().parents[2] / "bot_runtime" / "booking"


def placeholders(template: str) -> set[str]:
    """Names substituted into a text, which both languages must share."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_languages_have_the_same_keys_and_placeholders() -> None:
    assert set(RU) == set(EN)
    mismatched = [key for key in RU if placeholders(RU[key]) != placeholders(EN[key])]
    assert mismatched == []


def test_every_key_used_in_code_exists() -> None:
    used: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        source = path.read_text("utf-8")
        used |= set(re.findall(r"\btr\(\s*\"([a-z0-9_]+)\"", source))
        used |= set(re.findall(r"ParseError\(\"([a-z0-9_]+)\"\)", source))
        used |= set(re.findall(r"\"((?:sb|ab|ask|btn|err)_[a-z0-9_]+)\"", source))
    assert used, "the scan found nothing: the pattern is wrong"
    assert sorted(used - set(RU)) == []


def test_values_are_escaped_for_telegram_html() -> None:
    tr = Tr("en")
    text = tr("my_line", when="<b>", title="A & B", master="<i>x</i>", status="")
    assert "&lt;b&gt;" in text and "A &amp; B" in text and "<i>" not in text
    assert tr("broadcast_header", company="C", text=esc("<script>")).endswith("&lt;script&gt;")


def test_formats() -> None:
    ru, en = Tr("ru"), Tr("en")
    assert ru.duration(90) == "1 ч 30 мин" and en.duration(1440) == "24 h" and en.duration(2880) == "2 d"
    from decimal import Decimal

    assert ru.price(Decimal(1500)) == "1 500 ₽"
    assert en.price(Decimal(1500), Decimal(2500)) == "1 500–2 500 ₽"
    assert Tr("de").lang == "ru"
