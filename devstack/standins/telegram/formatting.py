"""Formatted-text parsing for the Telegram stand-in.

Telegram does not store the markup a bot sends: it parses ``parse_mode`` text (HTML, MarkdownV2 or
legacy Markdown) into plain text plus ``MessageEntity`` objects whose offsets and lengths are counted in
UTF-16 code units, and it rejects malformed markup with ``Bad Request: can't parse entities: ...``.
Reproducing that here lets tests catch the classic bugs (an unescaped ``.`` in MarkdownV2, an unclosed
``<b>``) that a stand-in which merely echoed the raw text would let through.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

JsonDict = dict[str, Any]


class EntityParseError(ValueError):
    """Raised when formatted text cannot be parsed, carrying Telegram's explanation of what is wrong.

    The message is the part after ``Bad Request: can't parse entities: `` so the HTTP layer can build the
    exact error description the real Bot API returns.
    """


def utf16_len(text: str) -> int:
    """Return the length of ``text`` in UTF-16 code units, the unit Telegram uses for entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    """Return the UTF-8 byte offset of ``text[index]``, which is how Telegram locates parse errors."""
    return len(text[:index].encode("utf-8"))


@dataclass
class _Builder:
    """Accumulates plain text and entities while a parser walks the formatted source."""

    parts: list[str] = field(default_factory=list)
    offset: int = 0
    entities: list[JsonDict] = field(default_factory=list)

    def add(self, chunk: str) -> None:
        """Append plain text and advance the UTF-16 offset used by entities that are still open."""
        if chunk:
            self.parts.append(chunk)
            self.offset += utf16_len(chunk)

    def entity(self, kind: str, start: int, **extra: Any) -> None:
        """Record an entity spanning from ``start`` to the current offset, dropping empty ones as Telegram does."""
        length = self.offset - start
        if length > 0:
            self.entities.append({"type": kind, "offset": start, "length": length, **extra})

    def result(self) -> tuple[str, list[JsonDict]]:
        """Return the plain text and the entities sorted the way Telegram returns them."""
        entities = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), entities


def parse_formatted(text: str, parse_mode: str | None) -> tuple[str, list[JsonDict]]:
    """Parse ``text`` according to ``parse_mode`` into plain text and entities.

    An empty or missing parse mode means the text is taken literally. Malformed markup raises
    ``EntityParseError``; an unknown mode raises a plain ``ValueError`` so the HTTP layer can answer
    ``Bad Request: unsupported parse_mode`` exactly as Telegram does.
    """
    mode = (parse_mode or "").strip().lower()
    if not mode:
        return text, []
    if mode == "html":
        return _parse_html(text)
    if mode == "markdownv2":
        return _parse_markdown_v2(text)
    if mode == "markdown":
        return _parse_markdown(text)
    raise ValueError("unsupported parse_mode")


# --------------------------------------------------------------------------------------------- HTML

_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9-]*)([^<>]*)>")
_ATTR = re.compile(r"""([A-Za-z][A-Za-z0-9_-]*)\s*(?:=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""")
_HTML_ENTITY = re.compile(r"&(#[xX][0-9A-Fa-f]+|#[0-9]+|lt|gt|amp|quot);")
_SIMPLE_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "pre": "pre",
    "code": "code",
}


@dataclass
class _OpenTag:
    """A start tag waiting for its end tag, with the entity it will produce."""

    name: str
    start: int
    kind: str | None
    extra: JsonDict


def _html_attrs(raw: str) -> dict[str, str]:
    """Parse the attribute part of a start tag into a lowercase-name dictionary."""
    attrs: dict[str, str] = {}
    for match in _ATTR.finditer(raw):
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if value is None:
            value = match.group(4) if match.group(4) is not None else ""
        attrs[match.group(1).lower()] = html.unescape(value)
    return attrs


def _html_unescape(chunk: str) -> str:
    """Replace only the character references Telegram supports, leaving any other ``&name;`` untouched."""

    def repl(match: re.Match[str]) -> str:
        return html.unescape(match.group(0))

    return _HTML_ENTITY.sub(repl, chunk)


def _parse_html(text: str) -> tuple[str, list[JsonDict]]:
    """Parse Telegram's HTML dialect: a fixed set of tags, strict nesting, and four named references."""
    builder = _Builder()
    stack: list[_OpenTag] = []
    pos = 0
    while pos < len(text):
        lt = text.find("<", pos)
        end = len(text) if lt == -1 else lt
        builder.add(_html_unescape(text[pos:end]))
        if lt == -1:
            break
        match = _TAG.match(text, lt)
        if match is None:
            raise EntityParseError(f"Unexpected end of name token at byte offset {_byte_offset(text, lt)}")
        closing, name, raw_attrs = match.group(1) == "/", match.group(2).lower(), match.group(3)
        if closing:
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {_byte_offset(text, lt)}")
            top = stack.pop()
            if top.name != name:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {_byte_offset(text, lt)}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            if top.kind is not None:
                builder.entity(top.kind, top.start, **top.extra)
        else:
            stack.append(_html_start_tag(text, lt, name, _html_attrs(raw_attrs), builder.offset, stack))
        pos = match.end()
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return builder.result()


def _html_start_tag(
    text: str, index: int, name: str, attrs: dict[str, str], offset: int, stack: list[_OpenTag]
) -> _OpenTag:
    """Map a start tag onto the entity it opens, rejecting tags Telegram does not support."""
    if name in _SIMPLE_TAGS:
        kind: str | None = _SIMPLE_TAGS[name]
        if name == "code" and stack and stack[-1].name == "pre":
            language = attrs.get("class", "")
            if language.startswith("language-"):
                stack[-1].extra["language"] = language.removeprefix("language-")
                kind = None
        return _OpenTag(name, offset, kind, {})
    if name == "span" and attrs.get("class") == "tg-spoiler":
        return _OpenTag(name, offset, "spoiler", {})
    if name == "a":
        href = attrs.get("href", "")
        return _OpenTag(name, offset, "text_link" if href else None, {"url": href} if href else {})
    if name == "blockquote":
        kind = "expandable_blockquote" if "expandable" in attrs else "blockquote"
        return _OpenTag(name, offset, kind, {})
    if name == "tg-emoji" and attrs.get("emoji-id"):
        return _OpenTag(name, offset, "custom_emoji", {"custom_emoji_id": attrs["emoji-id"]})
    raise EntityParseError(f'Unsupported start tag "{name}" at byte offset {_byte_offset(text, index)}')


# --------------------------------------------------------------------------------------- MarkdownV2

_MDV2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MDV2_NAMES = {
    "*": ("bold", "Bold"),
    "_": ("italic", "Italic"),
    "__": ("underline", "Underline"),
    "~": ("strikethrough", "Strikethrough"),
    "||": ("spoiler", "Spoiler"),
}


@dataclass
class _OpenMarker:
    """A MarkdownV2 marker waiting for its closing twin."""

    marker: str
    start: int
    index: int


def _mdv2_code(text: str, i: int, closing: str) -> tuple[str, int]:
    """Read code or pre content up to ``closing``; inside it only backslash escapes ``\\`` and the backtick."""
    out: list[str] = []
    n = len(text)
    while i < n:
        if text[i] == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if text.startswith(closing, i):
            return "".join(out), i + len(closing)
        out.append(text[i])
        i += 1
    raise ValueError("unterminated")


def _mdv2_url(text: str, i: int) -> tuple[str, int]:
    """Read a link target after ``](``; inside it only ``)`` and ``\\`` must be escaped."""
    out: list[str] = []
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n:
            out.append(text[i + 1])
            i += 2
            continue
        if c == ")":
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise ValueError("unterminated")


def _parse_markdown_v2(text: str) -> tuple[str, list[JsonDict]]:
    """Parse MarkdownV2, including its rule that every reserved character outside markup is escaped."""
    builder = _Builder()
    stack: list[_OpenMarker] = []
    quote_start: int | None = None
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        at_line_start, line_start = line_start, False
        if c == "\\" and i + 1 < n:
            builder.add(text[i + 1])
            i += 2
            continue
        if c == "\n":
            if quote_start is not None and not text.startswith(">", i + 1):
                builder.entity("blockquote", quote_start)
                quote_start = None
            builder.add(c)
            line_start = True
            i += 1
            continue
        if c == ">" and at_line_start:
            if quote_start is None:
                quote_start = builder.offset
            i += 1
            continue
        if c == "`":
            i = _mdv2_backticks(text, i, builder)
            continue
        marker = "__" if text.startswith("__", i) else "||" if text.startswith("||", i) else c
        if marker in _MDV2_NAMES:
            open_index = next((k for k in range(len(stack) - 1, -1, -1) if stack[k].marker == marker), None)
            if open_index is None:
                stack.append(_OpenMarker(marker, builder.offset, i))
            else:
                opened = stack.pop(open_index)
                builder.entity(_MDV2_NAMES[marker][0], opened.start)
            i += len(marker)
            continue
        if c == "[" or (c == "!" and text.startswith("![", i)):
            marker = "![" if c == "!" else "["
            stack.append(_OpenMarker(marker, builder.offset, i))
            i += len(marker)
            continue
        if c == "]" and stack and stack[-1].marker in ("[", "!["):
            opened = stack.pop()
            if not text.startswith("(", i + 1):
                raise EntityParseError(f"Can't find end of a URL at byte offset {_byte_offset(text, i)}")
            try:
                url, i = _mdv2_url(text, i + 2)
            except ValueError:
                raise EntityParseError(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, opened.index)}"
                ) from None
            if opened.marker == "![":
                builder.entity("custom_emoji", opened.start, custom_emoji_id=url.rpartition("id=")[2])
            else:
                builder.entity("text_link", opened.start, url=url)
            continue
        if c in _MDV2_RESERVED:
            raise EntityParseError(f"Character '{c}' is reserved and must be escaped with the preceding '\\'")
        builder.add(c)
        i += 1
    if quote_start is not None:
        builder.entity("blockquote", quote_start)
    if stack:
        opened = stack[-1]
        name = _MDV2_NAMES.get(opened.marker, ("", "TextUrl"))[1]
        raise EntityParseError(f"Can't find end of {name} entity at byte offset {_byte_offset(text, opened.index)}")
    return builder.result()


def _mdv2_backticks(text: str, i: int, builder: _Builder) -> int:
    """Handle inline code or a pre block starting at ``text[i]`` and return the index after it."""
    start = builder.offset
    if text.startswith("```", i):
        j = i + 3
        newline = text.find("\n", j)
        language = ""
        if newline != -1 and " " not in text[j:newline] and "`" not in text[j:newline]:
            language, j = text[j:newline], newline + 1
        try:
            content, after = _mdv2_code(text, j, "```")
        except ValueError:
            raise EntityParseError(f"Can't find end of Pre entity at byte offset {_byte_offset(text, i)}") from None
        builder.add(content)
        extra = {"language": language} if language else {}
        builder.entity("pre", start, **extra)
        return after
    try:
        content, after = _mdv2_code(text, i + 1, "`")
    except ValueError:
        raise EntityParseError(f"Can't find end of Code entity at byte offset {_byte_offset(text, i)}") from None
    builder.add(content)
    builder.entity("code", start)
    return after


# ------------------------------------------------------------------------------------ legacy Markdown


def _parse_markdown(text: str) -> tuple[str, list[JsonDict]]:
    """Parse legacy Markdown: ``*bold*``, ``_italic_``, code, pre and links, without nesting."""
    builder = _Builder()
    i, n = 0, len(text)
    simple = {"*": "bold", "_": "italic"}
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in "_*`[":
            builder.add(text[i + 1])
            i += 2
            continue
        start = builder.offset
        if c in simple or c == "`":
            closing = "```" if text.startswith("```", i) else c
            end = text.find(closing, i + len(closing))
            if end == -1:
                raise EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}")
            content = text[i + len(closing) : end]
            if closing == "```":
                language = ""
                first, sep, rest = content.partition("\n")
                if sep and first and " " not in first:
                    language, content = first, rest
                builder.add(content)
                builder.entity("pre", start, **({"language": language} if language else {}))
            else:
                builder.add(content)
                builder.entity(simple.get(c, "code"), start)
            i = end + len(closing)
            continue
        if c == "[":
            close = text.find("](", i + 1)
            end = text.find(")", close + 2) if close != -1 else -1
            if close == -1 or end == -1:
                raise EntityParseError(f"Can't find end of the entity starting at byte offset {_byte_offset(text, i)}")
            builder.add(text[i + 1 : close])
            builder.entity("text_link", start, url=text[close + 2 : end])
            i = end + 1
            continue
        builder.add(c)
        i += 1
    return builder.result()
