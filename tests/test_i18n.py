"""The shared text catalogs: escaping, language fallback, clear failures, key extraction and the middleware."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import gettext
from babel.messages.catalog import Catalog as PoCatalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import write_po

from botpool.errors import ConfigurationError
from botpool.i18n import Catalog, Html, Translator, TranslatorMiddleware, esc, fit, used_keys

TEXTS = {
    "ru": {"hello": "Привет, {name}!", "bye": "Пока", "only_ru": "Только по-русски", "braces": "{x} и {y}"},
    "en": {"hello": "Hello, {name}!", "bye": "Bye", "braces": "{x} and {y}"},
}


def write_catalogs(root: Path, texts: dict[str, dict[str, str]], *, compile_mo: bool = True) -> Path:
    """Write a ``demo`` domain the way a bot keeps it: ``<lang>/LC_MESSAGES/demo.po`` and ``.mo``."""
    for lang, entries in texts.items():
        catalog = PoCatalog(locale=lang, domain="demo", fuzzy=False)
        for key, text in entries.items():
            catalog.add(key, text)
        folder = root / lang / "LC_MESSAGES"
        folder.mkdir(parents=True)
        with (folder / "demo.po").open("wb") as po:
            write_po(po, catalog)
        if compile_mo:
            with (folder / "demo.mo").open("wb") as mo:
                write_mo(mo, catalog)
    return root


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    return Catalog(write_catalogs(tmp_path, TEXTS), "demo", default="ru")


def test_values_are_escaped_unless_marked_safe(catalog: Catalog) -> None:
    tr = Translator(catalog, "en")
    assert tr("hello", name="<b>Tom & Jerry</b>") == "Hello, &lt;b&gt;Tom &amp; Jerry&lt;/b&gt;!"
    assert tr("hello", name=Html("<b>Tom</b>")) == "Hello, <b>Tom</b>!"
    assert tr("braces", x=esc("<i>"), y=3) == "&lt;i&gt; and 3"
    assert tr("bye") == "Bye"


def test_languages_default_first_and_unknown_ones_fall_back_to_the_default(catalog: Catalog) -> None:
    assert catalog.languages == ("ru", "en")
    assert Translator(catalog, "de").lang == "ru"
    assert Translator(catalog, None)("bye") == "Пока"
    assert catalog.variants("bye") == {"Пока", "Bye"}


def test_an_entry_missing_in_one_language_shows_the_default_text(catalog: Catalog) -> None:
    assert Translator(catalog, "en")("only_ru") == "Только по-русски"


def test_an_unknown_key_is_an_error_not_a_bare_key_shown_to_the_reader(catalog: Catalog) -> None:
    with pytest.raises(KeyError, match="no_such_key"):
        Translator(catalog, "en")("no_such_key")


def test_catalogs_not_compiled_or_without_the_default_language_stop_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="demo"):
        Catalog(write_catalogs(tmp_path / "raw", TEXTS, compile_mo=False), "demo")
    with pytest.raises(ConfigurationError, match="'ru'"):
        Catalog(write_catalogs(tmp_path / "en_only", {"en": TEXTS["en"]}), "demo", default="ru")
    with pytest.raises(ConfigurationError, match="demo"):
        Catalog(tmp_path / "missing", "demo")


def test_fit_cuts_a_long_text_at_a_line_break() -> None:
    assert fit("short") == "short"
    text = "\n".join(f"line {i:04}" for i in range(1000))
    cut = fit(text, limit=100)
    assert len(cut) <= 102 and cut.endswith("\n…") and cut.split("\n")[-2] == "line 0009"


def test_extraction_finds_keys_in_every_call_shape(tmp_path: Path) -> None:
    source = tmp_path / "bot"
    source.mkdir()
    (source / "handlers.py").write_text(
        "def handler(tr, svc, ok, code, table):\n"
        '    tr("plain")\n'
        '    tr("yes_key" if ok else "no_key", n=1)\n'
        '    key = "picked_a" if ok else "picked_b"\n'
        "    tr(key)\n"
        '    svc.notify(conn, "not_a_key", "third_arg")\n'
        '    raise ParseError("err_hint")\n'
        '    FIELDS = {"name": "btn_name", "other": "plain text btn_x", "x": "btn_"}\n'
        '    tr(f"status_{code}")\n'
        '    print("not_extracted")\n'
        '    N_("marked")\n',
        encoding="utf-8",
    )
    mapping = tmp_path / "babel.cfg"
    mapping.write_text(
        "[botpool.i18n.extract_keys: **.py]\nkeywords = tr ParseError notify:3\nkey_prefixes = btn_\n",
        encoding="utf-8",
    )
    found = used_keys(source, mapping)
    assert set(found) == {
        "plain",
        "yes_key",
        "no_key",
        "picked_a",
        "picked_b",
        "third_arg",
        "err_hint",
        "btn_name",
        "btn_",
        "marked",
    }
    assert found["err_hint"] == ["handlers.py:7"]


async def test_middleware_hands_handlers_a_translator_in_the_users_language(catalog: Catalog) -> None:
    middleware = TranslatorMiddleware(catalog)
    seen: list[tuple[str, str]] = []

    async def handler(event: TelegramObject, data: dict[str, Any]) -> None:
        seen.append((data["tr"]("bye"), gettext("bye")))

    for code in ("en", "en-GB", "de", None):
        user = User(id=1, is_bot=False, first_name="A", language_code=code)
        await middleware(handler, user, {"event_from_user": user})
    assert seen == [("Bye", "Bye"), ("Bye", "Bye"), ("Пока", "Пока"), ("Пока", "Пока")]
