"""Text Moodle accepts unchanged: short names and descriptions mapped before they are sent.

Moodle's web services *validate* text, they do not clean it: a parameter whose cleaning
(``clean_param``) would change it is refused with ``invalidparameter`` (``validate_param``
in ``lib/moodlelib.php``; recordings 36-40). What the competency functions clean:

* short names are ``PARAM_TEXT``: PHP's ``strip_tags`` plus ``fix_utf8`` (NUL, U+FFFE and
  U+FFFF removed). A bare ``&`` passes (40); any tag fails (39), and so does a ``<`` that
  is not followed by white space (``strip_tags`` starts a tag there and eats the rest);
* descriptions are ``PARAM_CLEANHTML``: ``trim`` plus HTMLPurifier, which
  ``is_purify_html_necessary`` (``lib/weblib.php``) runs whenever the text holds ``&``, a
  tag other than ``p``/``em``/``strong``/``br``, or a bare ``<``/``>``. HTMLPurifier
  decodes entities and writes text back with only ``&``, ``<`` and ``>`` escaped, closes
  open tags, lower-cases names, quotes attributes and writes ``<br />``. That happens
  whatever ``descriptionformat`` says, so ``R&D`` in a *plain* description is refused
  (36) while ``R&amp;D`` as HTML is accepted (38);
* grading notes are ``PARAM_NOTAGS``: ``strip_tags`` again.

The functions here map core text to text that survives that cleaning unchanged, so what
Moodle gives back is exactly what we sent and a re-push compares equal:

* :func:`moodle_name` turns tags in titles into text (``<sup>``/``<sub>`` into Unicode
  superscripts and subscripts where they exist) and writes a tag-starting ``<`` as
  ``&lt;`` (Moodle displays short names as HTML, so it still shows ``<``);
* :func:`moodle_description` sends plain text that HTMLPurifier would change as escaped
  HTML (format 1, line breaks as ``<br />``), escapes markdown's bare ``&``/``<``/``>`` as
  entities (markdown renders them as the characters), and writes HTML the way
  HTMLPurifier does (:func:`purified_html`). What cannot be predicted or would lose
  content (scripts, unknown tags or attributes, a markdown quote block) is reported as a
  problem, so the plan refuses it before anything is written.

Pure: no I/O. Tested against the fake Moodle's own (independent) model of the cleaning.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Literal

PHP_TRIM = " \t\n\r\0\x0b"
"""The characters PHP's ``trim()`` removes (``PARAM_CLEANHTML`` trims)."""
_FIX_UTF8 = str.maketrans({"\0": None, "\ufffe": None, "\uffff": None})
"""What ``fix_utf8`` removes from valid UTF-8 (every ``clean_param`` type applies it)."""
_TAG_START = re.compile(r"<(?![ \t\n\r\x0b\x0c])")
"""A ``<`` PHP's ``strip_tags`` treats as the start of a tag (not followed by white space,
C's ``isspace``; also one at the very end)."""
_NAME_TAG = re.compile(
    r"</?(?:a|abbr|b|big|br|cite|code|del|em|font|i|ins|kbd|mark|q|s|small|span|strike|strong"
    r"|sub|sup|tt|u|var)(?:\s+[A-Za-z-]+\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))*\s*/?>",
    re.IGNORECASE,
)
"""Inline formatting tags as they appear in titles (``x<sup>2</sup>``, ``<em>a</em>``);
``a<b and b>a`` is no tag, its ``<`` is text."""
_ENTITY_TAIL = re.compile(r"&[A-Za-z]{0,3}$")

FORMAT_MOODLE, FORMAT_HTML, FORMAT_PLAIN, FORMAT_MARKDOWN = 0, 1, 2, 4


def fix_utf8(text: str) -> str:
    """``fix_utf8`` on text that is already valid Unicode: NUL, U+FFFE, U+FFFF removed."""
    return text.translate(_FIX_UTF8)


def survives_strip_tags(text: str) -> bool:
    """Whether PHP's ``strip_tags`` (and ``fix_utf8``) leave ``text`` unchanged: no NUL,
    no U+FFFE/U+FFFF, and every ``<`` followed by white space (so no tag ever starts)."""
    return fix_utf8(text) == text and _TAG_START.search(text) is None


# -- short names -------------------------------------------------------------------------

_SUPERSCRIPT = dict(
    zip(
        "0123456789+-=()niabcdefghjklmoprstuvwxyz\u2212",
        "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵃᵇᶜᵈᵉᶠᵍʰʲᵏˡᵐᵒᵖʳˢᵗᵘᵛʷˣʸᶻ⁻",
        strict=True,
    )
)
_SUBSCRIPT = dict(
    zip(
        "0123456789+-=()aehijklmnoprstuvx\u2212",
        "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ₋",
        strict=True,
    )
)
_SCRIPT_TAG = re.compile(r"<(sup|sub)\b[^>]*>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
_BREAK_TAG = re.compile(r"<br\b[^>]*>", re.IGNORECASE)


def _script(match: re.Match[str]) -> str:
    """``<sup>2</sup>`` as ``²`` (every character must have a Unicode form), else ``^2``."""
    inner = " ".join(html.unescape(_NAME_TAG.sub("", match.group(2))).split())
    table = _SUPERSCRIPT if match.group(1).lower() == "sup" else _SUBSCRIPT
    if inner and all(ch in table for ch in inner):
        return "".join(table[ch] for ch in inner)
    mark = "^" if table is _SUPERSCRIPT else "_"
    return f"{mark}{inner}" if len(inner) == 1 else f"{mark}({inner})"


NameChange = Literal["tags", "less-than", "invisible", "cut"]


@dataclass(frozen=True, slots=True)
class MappedName:
    """A short name as sent to Moodle and what was done to it (empty: nothing)."""

    text: str
    changes: tuple[NameChange, ...] = ()


def moodle_name(title: str, limit: int = 100) -> MappedName:
    """A title as a ``PARAM_TEXT`` short name Moodle stores unchanged, within ``limit``.

    A title holding inline formatting tags (``sup``, ``sub``, ``em``, ``b``...) is read as
    HTML: superscripts and subscripts become Unicode
    characters (``x<sup>2</sup>`` -> ``x²``; ``^(...)``/``_(...)`` where no character
    exists), line breaks spaces, other tags are dropped and entities decoded. A ``<``
    that would start a tag is written ``&lt;``; NUL and U+FFFE/U+FFFF are removed. Titles
    over ``limit`` characters are cut with "...".
    """
    changes: list[NameChange] = []
    text = title
    if _NAME_TAG.search(text):
        text = _SCRIPT_TAG.sub(_script, text)
        text = _BREAK_TAG.sub(" ", text)
        text = " ".join(html.unescape(_NAME_TAG.sub("", text)).split())
        changes.append("tags")
    cleaned = fix_utf8(text)
    if cleaned != text:
        changes.append("invisible")
        text = cleaned
    if _TAG_START.search(text):
        text = _TAG_START.sub("&lt;", text)
        changes.append("less-than")
    if len(text) > limit:
        text = text[: limit - 3].rstrip()
        text = _ENTITY_TAIL.sub("", text).rstrip() + "..."
        changes.append("cut")
    return MappedName(text, tuple(changes))


def note_text(text: str) -> str:
    """A grading note ``PARAM_NOTAGS`` keeps: a tag-starting ``<`` gets a space after it."""
    return _TAG_START.sub("< ", fix_utf8(text).strip())


# -- descriptions ------------------------------------------------------------------------


def purify_necessary(text: str) -> bool:
    """Moodle's ``is_purify_html_necessary``: whether HTMLPurifier runs on ``text`` at all.

    It does not for '', an integer, or text whose only markup is ``<p>``, ``<em>``,
    ``<strong>`` and ``<br />`` without ``&``; it does as soon as there is an ``&``, another
    tag, or a ``<``/``>`` that is not part of those four.
    """
    if text == "" or re.fullmatch(r"-?[1-9]\d{0,17}|0", text):
        return False
    if "&" in text or re.search(r"<[^pesb/]", text):
        return True
    altered = text.replace("<", "&lt;").replace(">", "&gt;")
    if altered == text:
        return False
    for pattern, replacement in (
        (r"&lt;p&gt;(.*?)&lt;/p&gt;", r"<p>\1</p>"),
        (r"&lt;em&gt;([^<>]+?)&lt;/em&gt;", r"<em>\1</em>"),
        (r"&lt;strong&gt;([^<>]+?)&lt;/strong&gt;", r"<strong>\1</strong>"),
    ):
        altered = re.sub(pattern, replacement, altered)
        if altered == text:
            return False
    return altered.replace("&lt;br /&gt;", "<br />") != text


_VOID = frozenset({"br", "hr", "img", "col", "area"})
_ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "acronym", "address", "b", "bdo", "big", "blockquote", "br", "caption",
        "center", "cite", "code", "col", "colgroup", "dd", "del", "dfn", "div", "dl", "dt",
        "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
        "li", "ol", "p", "pre", "q", "s", "samp", "small", "span", "strike", "strong",
        "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u",
        "ul", "var",
    }
)  # fmt: skip
"""Elements HTMLPurifier keeps in Moodle's configuration (XHTML 1.0 Transitional)."""
_BLOCKS = frozenset(
    {
        "address", "blockquote", "center", "div", "dl", "h1", "h2", "h3", "h4", "h5", "h6",
        "hr", "ol", "p", "pre", "table", "ul",
    }
)  # fmt: skip
_CLOSED_BY: dict[str, frozenset[str]] = {
    "p": _BLOCKS,
    "li": frozenset({"li"}),
    "dt": frozenset({"dt", "dd"}),
    "dd": frozenset({"dt", "dd"}),
    "tr": frozenset({"tr"}),
    "td": frozenset({"td", "th", "tr"}),
    "th": frozenset({"td", "th", "tr"}),
}
"""Open elements a new start tag closes (optional end tags; a block ends a paragraph)."""
_COMMON_ATTRIBUTES = frozenset({"class", "id", "title", "lang", "dir"})
_ALLOWED_ATTRIBUTES: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "name"}),
    "img": frozenset({"src", "alt", "width", "height"}),
    "table": frozenset({"border", "cellpadding", "cellspacing", "summary", "width"}),
    "td": frozenset({"colspan", "rowspan", "align", "valign", "width", "abbr", "scope"}),
    "th": frozenset({"colspan", "rowspan", "align", "valign", "width", "abbr", "scope"}),
    "ol": frozenset({"start", "type"}),
    "ul": frozenset({"type"}),
    "li": frozenset({"value", "type"}),
    "col": frozenset({"span", "width"}),
    "colgroup": frozenset({"span", "width"}),
    "font": frozenset({"color", "face", "size"}),
    "p": frozenset({"align"}),
    "div": frozenset({"align"}),
}
_URI_SCHEMES = frozenset({"http", "https", "ftp", "mailto", "news", "nntp"})
_URI_CHARS = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]*")


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _escape_attribute(text: str) -> str:
    return _escape_text(text).replace('"', "&quot;")


class _Purifier(HTMLParser):
    """Writes HTML the way HTMLPurifier does, or records why that cannot be predicted."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []
        self.problems: list[str] = []

    def _tag(self, tag: str, attrs: list[tuple[str, str | None]], *, empty: bool) -> None:
        if tag not in _ALLOWED_TAGS:
            self.problems.append(f"<{tag}> is removed by Moodle's HTML cleaner")
            return
        allowed = _COMMON_ATTRIBUTES | _ALLOWED_ATTRIBUTES.get(tag, frozenset())
        parts: list[str] = []
        values = dict(attrs)
        for name, value in attrs:
            if name not in allowed:
                self.problems.append(f"attribute {name!r} of <{tag}> is removed or rewritten")
                continue
            text = name if value is None else value
            if name in ("href", "src") and not _safe_uri(text):
                self.problems.append(f"the address {text[:60]!r} of <{tag}> would be rewritten")
                continue
            parts.append(f' {name}="{_escape_attribute(text)}"')
        if tag == "img" and "alt" not in values and values.get("src"):
            # HTMLPurifier_AttrTransform_ImgRequired: alt defaults to the file name.
            alt = (values["src"] or "").rstrip("/").rsplit("/", 1)[-1][:40]
            parts.append(f' alt="{_escape_attribute(alt)}"')
        while self.open and tag in _CLOSED_BY.get(self.open[-1], frozenset()):
            self.out.append(f"</{self.open.pop()}>")
        if tag in _VOID:
            self.out.append(f"<{tag}{''.join(parts)} />")
        elif empty:
            self.problems.append(f"<{tag} /> cannot be empty in HTML")
        else:
            self.out.append(f"<{tag}{''.join(parts)}>")
            self.open.append(tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, empty=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._tag(tag, attrs, empty=True)

    def handle_endtag(self, tag: str) -> None:
        if tag in _VOID:
            return
        if tag not in self.open:
            return  # HTMLPurifier drops an end tag that closes nothing
        while self.open:
            name = self.open.pop()
            self.out.append(f"</{name}>")
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        self.out.append(_escape_text(data))

    def handle_comment(self, data: str) -> None:
        """HTMLPurifier removes comments (content-free, so this is no loss)."""

    def handle_decl(self, decl: str) -> None:
        self.problems.append(f"<!{decl[:20]}> is removed by Moodle's HTML cleaner")

    def handle_pi(self, data: str) -> None:
        self.problems.append(f"<?{data[:20]}> is removed by Moodle's HTML cleaner")

    def unknown_decl(self, data: str) -> None:
        self.problems.append(f"<![{data[:20]}]> is removed by Moodle's HTML cleaner")

    def result(self) -> str:
        return "".join(self.out) + "".join(f"</{tag}>" for tag in reversed(self.open))


def _safe_uri(uri: str) -> bool:
    """Addresses HTMLPurifier keeps as written: URI characters only, a known scheme."""
    if not _URI_CHARS.fullmatch(uri):
        return False
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.\-]*):", uri)
    return scheme is None or scheme.group(1).lower() in _URI_SCHEMES


@dataclass(frozen=True, slots=True)
class Purified:
    """HTML as HTMLPurifier would write it, and what stops that prediction."""

    text: str
    problems: tuple[str, ...] = ()


def purified_html(text: str) -> Purified:
    """``text`` the way Moodle's HTMLPurifier writes it back (entities decoded and only
    ``& < >`` escaped in text, ``"`` too in attributes, names lower-cased, void elements as
    ``<br />``, open elements closed, comments dropped, CR LF as LF), with the problems
    that make the result unpredictable or lossy (unknown elements or attributes, unsafe
    addresses, mis-nested end tags)."""
    parser = _Purifier()
    parser.feed(text.replace("\r\n", "\n").replace("\r", "\n"))
    parser.close()
    return Purified(parser.result(), tuple(dict.fromkeys(parser.problems)))


def survives_cleanhtml(text: str) -> bool:
    """Whether ``PARAM_CLEANHTML`` keeps ``text`` as it is (as far as we can predict)."""
    if text != text.strip(PHP_TRIM) or fix_utf8(text) != text:
        return False
    if not purify_necessary(text):
        return True
    purified = purified_html(text)
    return not purified.problems and purified.text == text


DescriptionChange = Literal["trimmed", "plain as html", "markdown escaped", "html rewritten"]


@dataclass(frozen=True, slots=True)
class MappedDescription:
    """A description as sent (text and Moodle format code), what was done to it, and
    why it cannot be sent (``problems``: the plan refuses it)."""

    text: str
    format: int
    changes: tuple[DescriptionChange, ...] = ()
    problems: tuple[str, ...] = field(default=())


def plain_as_html(text: str) -> str:
    """Plain text as the HTML Moodle shows for it: escaped, line breaks as ``<br />``."""
    return _escape_text(text).replace("\n", "<br />\n")


_MD_BARE_AMP = re.compile(r"&(?!#\d+;|#x[0-9A-Fa-f]+;|[A-Za-z][A-Za-z0-9]*;)")
_MD_BARE_LT = re.compile(r"<(?![A-Za-z/!?])")
_MD_QUOTE = re.compile(r"^[ \t]{0,3}>", re.MULTILINE)


def _markdown_escaped(text: str) -> str:
    """Markdown with bare ``&``, ``<`` and ``>`` as entities (rendered as the characters);
    quote markers (``>`` at the start of a line) are left alone."""
    text = _MD_BARE_LT.sub("&lt;", _MD_BARE_AMP.sub("&amp;", text))
    lines = []
    for line in text.split("\n"):
        marker = _MD_QUOTE.match(line)
        head = marker.group(0) if marker else ""
        lines.append(head + line[len(head) :].replace(">", "&gt;"))
    return "\n".join(lines)


def moodle_description(text: str | None, code: int) -> MappedDescription:
    """A description (with Moodle format ``code``) as text ``PARAM_CLEANHTML`` keeps.

    Surrounding white space is trimmed (Moodle trims, so it would refuse it); text that
    needs no purifying is sent as it is. Otherwise plain text (and Moodle's auto-format)
    is sent as escaped HTML in format 1, markdown gets entities for its bare ``& < >``,
    and HTML is written the way HTMLPurifier would write it.
    """
    if not text:
        return MappedDescription("", code)
    changes: list[DescriptionChange] = []
    trimmed = fix_utf8(text).strip(PHP_TRIM)
    if trimmed != text:
        changes.append("trimmed")
    if not purify_necessary(trimmed):
        return MappedDescription(trimmed, code, tuple(changes))
    lines = trimmed.replace("\r\n", "\n").replace("\r", "\n")  # HTMLPurifier does this
    if code in (FORMAT_PLAIN, FORMAT_MOODLE):
        changes.append("plain as html")
        result, result_code = plain_as_html(lines), FORMAT_HTML
    elif code == FORMAT_MARKDOWN:
        result, result_code = _markdown_escaped(lines), FORMAT_MARKDOWN
        if result != trimmed:
            changes.append("markdown escaped")
    else:
        purified = purified_html(lines)
        if purified.problems:
            return MappedDescription(trimmed, code, tuple(changes), purified.problems)
        result, result_code = purified.text, FORMAT_HTML
        if result != trimmed:
            changes.append("html rewritten")
    if not survives_cleanhtml(result):
        why = (
            "Moodle's HTML cleaner would change it (a markdown quote block, '>' at the "
            "start of a line, or inline HTML)"
            if code == FORMAT_MARKDOWN
            else "Moodle's HTML cleaner would change it"
        )
        return MappedDescription(trimmed, code, tuple(changes), (why,))
    return MappedDescription(result, result_code, tuple(changes))
