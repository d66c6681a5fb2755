"""Texts of a Telegram bot from gettext catalogs, looked up by message key, in the language of the reader.

Why gettext: it is aiogram's own convention (``aiogram.utils.i18n``), translators'
tools read ``.po`` files, and Babel extracts ids from code and compiles catalogs.
Each bot owns one domain and one ``locales/`` directory beside its code
(``locales/<lang>/LC_MESSAGES/<domain>.po`` and the compiled ``.mo``, both
committed); a ``Catalog`` loads it once per process through aiogram's ``I18n``.

Why message keys ("welcome", "btn_back") as msgids instead of the source text:
texts are long multi-line Telegram HTML that would bury the code around them;
rewording a text then touches one catalog line instead of every call site and
every other language's msgid; and a mistyped key is an id missing from the
catalog, which the extraction test reports, rather than a silently untranslated
sentence. The price, that a translator sees a key, is paid by reading the
default language's catalog beside the one being translated.

Why a ``Translator`` handed to handlers instead of aiogram's context-bound
``gettext``: notifications, reminders and owner alerts are rendered outside the
update of the person who reads them, so the language is a value, not ambient
state. ``TranslatorMiddleware`` still sets aiogram's i18n context as well.

Values substituted into texts are escaped for Telegram HTML unless wrapped in
``Html`` (fragments built safely by the code), so a client named "<b>" cannot
break a message.
"""

from __future__ import annotations

import ast
import html
import itertools
from collections.abc import Callable, Collection, Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from aiogram.types import TelegramObject
from aiogram.utils.i18n import I18n, SimpleI18nMiddleware

from botpool.errors import ConfigurationError

#: Telegram's limit on the length of one message.
MAX_TEXT = 4096


class Html(str):
    """A string already safe for Telegram HTML, so a ``Translator`` inserts it without escaping it again."""

    __slots__ = ()


def esc(value: object) -> Html:
    """Escape any value for Telegram HTML, so user-supplied text can never open or close a tag."""
    return Html(html.escape(str(value), quote=False))


def fit(text: str, limit: int = MAX_TEXT - 96) -> str:
    """Cut ``text`` at a line break so it fits one Telegram message, which rejects longer ones outright.

    Cutting at a line break keeps tags balanced as long as no tag spans lines,
    which is how the catalogs write them.
    """
    if len(text) <= limit:
        return text
    cut = text.rfind("\n", 0, limit)
    return text[: cut if cut > 0 else limit] + "\n…"


def N_(key: str) -> str:
    """Return ``key`` unchanged: gettext's conventional marker for a key stored now and translated later.

    Extraction finds keys only where the code names them; ``N_`` names one
    that the code passes around as data (a table, a result code).
    """
    return key


class Catalog:
    """One gettext domain's compiled catalogs, loaded once per process and shared by every ``Translator``.

    ``default`` is the language for readers whose language has no catalog, and
    the fallback for an entry another language lacks, so a missing translation
    shows the default text rather than a key.
    """

    def __init__(self, path: str | Path, domain: str, *, default: str = "ru") -> None:
        """Load every ``<path>/<lang>/LC_MESSAGES/<domain>.mo``; refuse to start without the default one."""
        path = Path(path)
        try:
            self.i18n = I18n(path=path, default_locale=default, domain=domain)
        except (OSError, RuntimeError) as exc:
            raise ConfigurationError(f"cannot load the {domain!r} text catalogs from {path}: {exc}") from exc
        if default not in self.i18n.locales:
            raise ConfigurationError(f"no compiled {default!r} catalog of {domain!r} in {path}; run `make texts`")
        self.domain = domain
        self.default = default
        #: Languages with a catalog, the default first.
        self.languages: tuple[str, ...] = (default, *sorted(set(self.i18n.locales) - {default}))
        fallback = self.i18n.locales[default]
        for lang in self.languages[1:]:
            self.i18n.locales[lang].add_fallback(fallback)
        # Texts looked up so far, per language: a plain dict read is what every render pays, not gettext's chain.
        self._texts: dict[str, dict[str, str]] = {lang: {} for lang in self.languages}

    def resolve(self, lang: str | None) -> str:
        """Return ``lang`` if it has a catalog, else the default, so any stored or reported code is usable."""
        return lang if lang in self._texts else self.default

    def text(self, lang: str, key: str) -> str:
        """Look ``key`` up in ``lang`` (the default's text if that language lacks it) and remember it.

        An id no catalog has raises ``KeyError`` instead of showing the reader
        a bare key; gettext hands back the very object it was given then.
        """
        template = self.i18n.gettext(key, locale=lang)
        if template is key:
            raise KeyError(f"no text {key!r} in the {self.domain!r} catalogs")
        self._texts[lang][key] = template
        return template

    def variants(self, key: str) -> frozenset[str]:
        """Return the text of ``key`` in every language, since a reply-keyboard tap arrives as plain text."""
        return frozenset(Translator(self, lang)(key) for lang in self.languages)


class Translator:
    """The texts of one catalog in one language, called as ``tr("key", **values)``; bots subclass it for formats."""

    __slots__ = ("_texts", "catalog", "lang")

    def __init__(self, catalog: Catalog, lang: str | None) -> None:
        """Bind to ``lang``, or to the catalog's default if there is no catalog for it; cheap enough per update."""
        self.catalog = catalog
        texts = catalog._texts  # this module's own state; inlined because a translator is built per update
        self.lang = lang if lang in texts else catalog.default
        self._texts = texts[self.lang]

    def __call__(self, key: str, /, **values: object) -> str:
        """Return the text ``key`` with ``values`` substituted, each escaped for HTML unless it is ``Html``.

        An unknown key raises ``KeyError`` (the bot's error boundary apologises);
        the extraction test keeps every key the code uses in every catalog.
        """
        template = self._texts.get(key) or self.catalog.text(self.lang, key)
        if not values:
            return template
        return template.format_map({k: v if isinstance(v, Html) else esc(v) for k, v in values.items()})


class TranslatorMiddleware(SimpleI18nMiddleware):
    """Give handlers ``tr`` in the language Telegram reports for the user, and set aiogram's i18n context too.

    For bots that keep no language of their own per user (the booking bot
    stores one and builds its ``Tr`` in its own context middleware).
    ``factory`` builds the translator, e.g. a ``Translator`` subclass with the
    bot's formats. Register with ``TranslatorMiddleware(catalog).setup(router)``.
    """

    def __init__(
        self, catalog: Catalog, *, factory: Callable[[str], Translator] | None = None, key: str = "tr"
    ) -> None:
        """Keep the catalog and how to build a translator for a language."""
        super().__init__(catalog.i18n)
        self.catalog = catalog
        self.factory: Callable[[str], Translator] = factory or (lambda lang: Translator(catalog, lang))
        self.key = key

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        """Pick the user's language (aiogram's rules) and put the translator for it into ``data``."""
        lang = self.catalog.resolve(await super().get_locale(event, data))
        data[self.key] = self.factory(lang)
        return lang


# --- Extraction (build time: `pybabel extract`, `make texts`, the catalog tests) ---


def extract_keys(
    fileobj: IO[bytes], keywords: Collection[str], comment_tags: Collection[str], options: Mapping[str, Any]
) -> Iterator[tuple[int, str | None, str | tuple[str | None, ...], list[str]]]:
    """Babel extraction method that finds message keys however the code passes them.

    Babel's own Python extractor reads tokens, so ``tr("a" if x else "b")``
    yields "ab", and a key kept in a table is not found. This one reads the
    syntax tree. Calls to a keyword (by function or method name; Babel's
    ``name:N`` specs from ``-k`` or the mapping file's ``keywords`` option pick
    the argument) yield every literal an argument can be, through ``a if c else
    b`` and through a variable assigned literals in the same function
    (``key = "a" if c else "b"; tr(key)``). The mapping file's ``key_prefixes`` option (space-separated) makes any
    identifier-like string literal starting with one of them a key wherever it
    stands (tables, assignments). Keys built at run time cannot be found:
    write them out with ``N_`` where they are chosen.
    """
    del comment_tags  # keys carry no translator comments: the default language's catalog is the source
    tree = ast.parse(fileobj.read())
    for scope in [tree, *(n for n in ast.walk(tree) if isinstance(n, _SCOPES))]:
        nodes = list(_own_nodes(scope))
        assigned: dict[str, list[str]] = {}
        for node in nodes:
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for target in targets:
                    if isinstance(target, ast.Name):
                        assigned.setdefault(target.id, []).extend(_literals(node.value))
        for node in nodes:
            if isinstance(node, ast.Call) and _name(node.func) in keywords:
                choices = [_arg_literals(arg, assigned) or [None] for arg in node.args]
                for args in itertools.product(*choices):
                    yield node.lineno, _name(node.func), args, []
    prefixes = tuple(str(options.get("key_prefixes", "")).split())
    if prefixes:
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and node.value.startswith(prefixes)
                and node.value.isidentifier()
            ):
                yield node.lineno, None, node.value, []


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _own_nodes(scope: ast.AST) -> Iterator[ast.AST]:
    """Yield the nodes of one scope, not those inside the functions and classes it defines."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, _SCOPES):
            stack.extend(ast.iter_child_nodes(node))


def _name(func: ast.expr) -> str:
    """Return the called function's or method's name, "" for anything else (a call of a call)."""
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def _arg_literals(arg: ast.expr, assigned: Mapping[str, list[str]]) -> list[str | None]:
    """Return the keys an argument can be: its literals, or those assigned to the variable it names."""
    if isinstance(arg, ast.Name):
        return list(assigned.get(arg.id, ()))
    return list(_literals(arg))


def _literals(node: ast.expr) -> Iterator[str]:
    """Yield the string literals an argument can evaluate to, through ``a if c else b`` and ``x or y``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        yield node.value
    elif isinstance(node, ast.IfExp):
        yield from _literals(node.body)
        yield from _literals(node.orelse)
    elif isinstance(node, ast.BoolOp):
        for value in node.values:
            yield from _literals(value)


def used_keys(source: Path, mapping: Path) -> dict[str, list[str]]:
    """Return every key the code under ``source`` uses, with where (``path:line``), by the Babel ``mapping`` file.

    The same extraction ``pybabel extract -F <mapping>`` runs, for a bot's
    test that every key used exists in every catalog and every entry is used.
    """
    from babel.messages.extract import extract_from_dir  # build-time tooling, not loaded by a running bot
    from babel.messages.frontend import parse_mapping_cfg

    with mapping.open(encoding="utf-8") as fileobj:
        method_map, options_map = parse_mapping_cfg(fileobj, filename=str(mapping))  # type: ignore[no-untyped-call]
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _, _ in extract_from_dir(str(source), method_map, options_map):
        if isinstance(message, str):
            found.setdefault(message, []).append(f"{filename}:{lineno}")
    return found


__all__ = [
    "MAX_TEXT",
    "N_",
    "Catalog",
    "Html",
    "Translator",
    "TranslatorMiddleware",
    "esc",
    "extract_keys",
    "fit",
    "used_keys",
]
