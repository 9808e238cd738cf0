"""The fake Moodle's model of Moodle's parameter cleaning (``clean_param``), for validation.

Moodle validates web-service parameters by cleaning them and refusing any value the
cleaning changes (``validate_param`` in ``lib/moodlelib.php``: "Invalid parameter value
detected"); recordings 36-40 show it for competency texts. This module reproduces the
cleaning of the types the competency and user functions declare, written from Moodle's
and PHP's sources, independently of the adapter's own mapping
(``comp_adapters.moodle.text``), so the tests check one against the other:

* ``PARAM_TEXT`` (short names): ``fix_utf8`` then PHP's ``strip_tags``
  (``ext/standard/string.c``, ``php_strip_tags_ex``: a ``<`` not followed by white space
  opens a tag that runs to the matching ``>``, quotes and nested ``<`` counted; ``<!--``
  runs to ``-->``; NUL dropped; a bare ``>`` kept);
* ``PARAM_NOTAGS`` (grading notes): the same;
* ``PARAM_CLEANHTML`` (descriptions): ``fix_utf8``, ``clean_text`` (HTMLPurifier when
  ``is_purify_html_necessary``, ``lib/weblib.php``), then ``trim``. HTMLPurifier is
  modelled by what it does to the markup the tests send: entities decoded and text
  re-escaped with ``htmlspecialchars(ENT_NOQUOTES)`` (``HTMLPurifier_Generator``),
  attributes with ``ENT_COMPAT``, names lower-cased, elements outside XHTML 1.0
  Transitional removed (their text kept), unknown attributes removed, void elements
  written ``<br />``, stray end tags dropped, open elements closed, comments removed,
  CR LF turned into LF (``HTMLPurifier_Lexer::normalize``);
* ``PARAM_USERNAME``, ``PARAM_EMAIL``, ``PARAM_RAW`` for ``core_user_get_users_by_field``
  (``user/externallib.php``: a value its field's cleaning changes fails the whole call).

And ``format_string`` (``lib/weblib.php``) for short names answered without raw mode:
bare ``&`` as ``&amp;``, then (``formatstringstriptags``, on by default) tags stripped
and ``<``/``>`` escaped.
"""

from __future__ import annotations

import html
import re

PHP_SPACE = " \t\n\r\x0b\x0c"
PHP_TRIM = " \t\n\r\0\x0b"


def fix_utf8(value: str) -> str:
    """``fix_utf8``: NUL, U+FFFE and U+FFFF removed (the text is valid UTF-8 already)."""
    return value.replace("\0", "").replace("\ufffe", "").replace("\uffff", "")


def php_strip_tags(value: str) -> str:
    """PHP's ``strip_tags($value)`` without allowed tags (``php_strip_tags_ex``)."""
    if "<" not in value and "\0" not in value:
        return value
    out: list[str] = []
    state, depth, quote = 0, 0, ""
    i, n = 0, len(value)
    while i < n:
        ch = value[i]
        if ch == "\0":
            i += 1
            continue
        if state == 0:
            if ch == "<":
                following = value[i + 1] if i + 1 < n else "\0"
                if following in PHP_SPACE:
                    out.append(ch)
                elif value.startswith("<!--", i):
                    state = 4
                    i += 4
                    continue
                else:
                    state, depth, quote = 1, 0, ""
            else:
                out.append(ch)
        elif state == 1:
            if quote:
                if ch == quote:
                    quote = ""
            elif ch in "\"'":
                quote = ch
            elif ch == "<":
                depth += 1
            elif ch == ">":
                if depth:
                    depth -= 1
                else:
                    state = 0
        elif value.startswith("-->", i):  # state 4: a comment
            state = 0
            i += 3
            continue
        i += 1
    return "".join(out)


def clean_text_param(value: str) -> str:
    """``clean_param($value, PARAM_TEXT)`` (and ``PARAM_NOTAGS``) outside multilang."""
    return php_strip_tags(fix_utf8(value))


def is_purify_html_necessary(text: str) -> bool:
    """``is_purify_html_necessary`` of ``lib/weblib.php``, step by step."""
    if text == "":
        return False
    if re.fullmatch(r"0|-?[1-9][0-9]{0,17}", text):
        return False
    if "&" in text or re.search(r"<[^pesb/]", text):
        return True
    altered = text.replace("<", "&lt;").replace(">", "&gt;")  # htmlspecialchars, NOQUOTES
    if altered == text:
        return False
    altered = re.sub(r"&lt;p&gt;(.*?)&lt;/p&gt;", r"<p>\1</p>", altered)
    if altered == text:
        return False
    altered = re.sub(r"&lt;em&gt;([^<>]+?)&lt;/em&gt;", r"<em>\1</em>", altered)
    if altered == text:
        return False
    altered = re.sub(r"&lt;strong&gt;([^<>]+?)&lt;/strong&gt;", r"<strong>\1</strong>", altered)
    if altered == text:
        return False
    return altered.replace("&lt;br /&gt;", "<br />") != text


_ELEMENTS = frozenset(
    [
        "a",
        "abbr",
        "acronym",
        "address",
        "b",
        "bdo",
        "big",
        "blockquote",
        "br",
        "caption",
        "center",
        "cite",
        "code",
        "col",
        "colgroup",
        "dd",
        "del",
        "dfn",
        "div",
        "dl",
        "dt",
        "em",
        "font",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "hr",
        "i",
        "img",
        "ins",
        "kbd",
        "li",
        "ol",
        "p",
        "pre",
        "q",
        "s",
        "samp",
        "small",
        "span",
        "strike",
        "strong",
        "sub",
        "sup",
        "table",
        "tbody",
        "td",
        "tfoot",
        "th",
        "thead",
        "tr",
        "tt",
        "u",
        "ul",
        "var",
    ]
)
_EMPTY_ELEMENTS = {"br", "hr", "img", "col", "area"}
_ATTRIBUTES = {"class", "id", "title", "lang", "dir"}
_ELEMENT_ATTRIBUTES = {
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "align", "valign", "width", "abbr", "scope"},
    "th": {"colspan", "rowspan", "align", "valign", "width", "abbr", "scope"},
    "table": {"border", "cellpadding", "cellspacing", "summary", "width"},
    "ol": {"start", "type"},
    "ul": {"type"},
    "li": {"value", "type"},
    "p": {"align"},
    "div": {"align"},
    "font": {"color", "face", "size"},
}
_TOKEN = re.compile(
    r"<!--.*?-->"
    r"|<(?P<end>/?)(?P<name>[A-Za-z][A-Za-z0-9]*)(?P<attrs>(?:\s+[^\s=>/]+"
    r"(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>\"']+))?)*)\s*(?P<slash>/?)>",
    re.DOTALL,
)
_ATTRIBUTE = re.compile(r"([^\s=>/]+)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>\"']+))?")


def _text(piece: str) -> str:
    return html.unescape(piece).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attributes(name: str, text: str) -> str:
    allowed = _ATTRIBUTES | _ELEMENT_ATTRIBUTES.get(name, set())
    parts = []
    for written, raw in _ATTRIBUTE.findall(text):
        attr = written.lower()
        if attr not in allowed:
            continue
        value = html.unescape(raw[1:-1] if raw[:1] in "\"'" and raw else raw or attr)
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        parts.append(f' {attr}="{escaped.replace(chr(34), "&quot;")}"')
    return "".join(parts)


def purify(text: str) -> str:
    """What HTMLPurifier makes of ``text`` (the model described in the module docstring)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    out: list[str] = []
    stack: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        out.append(_text(text[position : match.start()]))
        position = match.end()
        name = (match.group("name") or "").lower()
        if not name or name not in _ELEMENTS:
            continue  # a comment, or an element HTMLPurifier removes (its text stays)
        if match.group("end"):
            if name in stack:
                while stack:
                    top = stack.pop()
                    out.append(f"</{top}>")
                    if top == name:
                        break
            continue
        attributes = _attributes(name, match.group("attrs"))
        if name in _EMPTY_ELEMENTS:
            out.append(f"<{name}{attributes} />")
        else:
            out.append(f"<{name}{attributes}>")
            stack.append(name)
    out.append(_text(text[position:]))
    out.extend(f"</{name}>" for name in reversed(stack))
    return "".join(out)


def clean_html_param(value: str) -> str:
    """``clean_param($value, PARAM_CLEANHTML)``: fix_utf8, clean_text, trim."""
    value = fix_utf8(value)
    if is_purify_html_necessary(value):
        value = purify(value)
    return value.strip(PHP_TRIM)


def clean_username(value: str) -> str:
    """``PARAM_USERNAME`` (``extendedusernamechars`` off, Moodle's default)."""
    value = fix_utf8(value).strip(PHP_TRIM).lower().replace(" ", "")
    return re.sub(r"[^-.@_a-z0-9]", "", value)


_EMAIL = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"
)


def clean_email(value: str) -> str:
    """``PARAM_EMAIL``: the address when ``validate_email`` accepts it, else ''."""
    value = fix_utf8(value)
    return value if _EMAIL.fullmatch(value) and len(value) <= 254 else ""


def format_string(value: str) -> str:
    """``format_string`` without filters: bare ``&`` escaped, tags stripped, ``<>`` escaped."""
    if not any(ch in value for ch in "&<>"):
        return value
    value = re.sub(r"&(?![a-zA-Z0-9#]{1,8};)", "&amp;", value)
    return php_strip_tags(value).replace("<", "&lt;").replace(">", "&gt;")
