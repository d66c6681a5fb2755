"""Every key the operator bot's code uses is in both catalogs, every entry is used, the compiled catalogs
match the sources, and both languages substitute the same values."""

from __future__ import annotations

import string
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from botpool.i18n import used_keys

PACKAGE = Path(__file__).resolve().parents[2] / "operator_bot"
LOCALES = PACKAGE / "locales"
USED = used_keys(PACKAGE, LOCALES / "babel.cfg")


def _entries(catalog: Catalog) -> dict[str, str]:
    return {str(m.id): str(m.string) for m in catalog if m.id}


def _read(lang: str, kind: str) -> dict[str, str]:
    path = LOCALES / lang / "LC_MESSAGES" / f"operator.{kind}"
    with path.open("rb") as fileobj:
        return _entries(read_po(fileobj) if kind == "po" else read_mo(fileobj))


def _placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_catalogs_hold_exactly_the_keys_the_code_uses_compiled_as_written() -> None:
    for lang in ("ru", "en"):
        texts = _read(lang, "po")
        assert sorted(set(USED) - set(texts)) == [], f"missing in {lang}"
        assert sorted(set(texts) - set(USED)) == [], f"unused in {lang}"
        assert all(texts.values()), f"an empty text in {lang}"
        assert _read(lang, "mo") == texts, f"{lang}: run `make texts`"


def test_both_languages_substitute_the_same_values() -> None:
    ru, en = _read("ru", "po"), _read("en", "po")
    assert {k: _placeholders(v) for k, v in ru.items()} == {k: _placeholders(v) for k, v in en.items()}
