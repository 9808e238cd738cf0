"""Numbers in Canvas's outcomes CSV, which Canvas reads and writes in the account's locale.

Canvas's import parses ``mastery_points`` and rating points with the account's
``default_locale`` (``OutcomeImport#run`` sets ``I18n.locale``): it removes the locale's
thousands delimiter, turns its decimal separator into ``.`` and calls Ruby's ``Float()``
(``Outcomes::CSVImporter#normalize_i18n`` / ``#strict_parse_float``). Under de, nl or da the
delimiter is ``.``, so ``2.5`` becomes ``25`` without a row error. Its export writes the same
numbers with ``I18n.n`` in that locale (``AccountReports::OutcomeExport#export_outcomes``):
``1,000.0`` in English, ``2,5`` in German.

So a number is written the way the target parses it back to the same value: whole numbers
as plain digits (no separator, the same in every locale); others with the locale's decimal
separator when the locale is known, else in exponent form (``25e-1``), which holds neither
separator and which ``Float()`` reads as 2.5 under every locale. Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal
from typing import NamedTuple


class NumberFormat(NamedTuple):
    """A locale's decimal separator and thousands delimiter (Rails ``number.format``)."""

    separator: str
    delimiter: str


POINT = NumberFormat(".", ",")
COMMA = NumberFormat(",", ".")
LOCALE_FORMATS: dict[str, NumberFormat] = {"en": POINT, "de": COMMA, "nl": COMMA, "da": COMMA}
"""The locales whose format this library is sure of, by language (``en-GB`` is ``en``).

Others are treated as unknown: their numbers are written in exponent form, which every
locale reads the same."""

_THOUSANDS = re.compile(r"[\s\u00a0\u202f']")


def locale_format(locale: str | None) -> NumberFormat | None:
    """The number format of a Canvas locale (``de``, ``en-GB``), ``None`` when not known."""
    if not locale:
        return None
    language = re.split(r"[-_]", locale.strip(), maxsplit=1)[0].lower()
    return LOCALE_FORMATS.get(language)


def parse_number(text: str, locale: str | None = None) -> float:
    """A number of an outcomes CSV cell; ``ValueError`` when there is none.

    With a known ``locale`` it is read exactly as Canvas reads it there. Without one, the
    reader takes what Canvas's own exports and spreadsheets write: spaces and apostrophes
    as thousands separators, and of ``,`` and ``.`` the one that comes last as the decimal
    separator (``1,000.0``, ``1.000,5``, ``2,5``); a separator repeated is a delimiter.
    """
    known = locale_format(locale)
    cleaned = text.strip()
    if known is not None:
        cleaned = cleaned.replace(known.delimiter, "").replace(known.separator, ".")
    else:
        cleaned = _THOUSANDS.sub("", cleaned)
        comma, point = cleaned.rfind(","), cleaned.rfind(".")
        if comma >= 0 and point >= 0:
            decimal, other = (",", ".") if comma > point else (".", ",")
            cleaned = cleaned.replace(other, "").replace(decimal, ".")
        elif cleaned.count(",") > 1 or cleaned.count(".") > 1:
            cleaned = cleaned.replace(",", "").replace(".", "")
        else:
            cleaned = cleaned.replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ValueError(f"not a number: {text!r}")
    return value


def format_number(value: float | None, locale: str | None = None) -> str:
    """``value`` as the target account parses it back to the same number (see the module)."""
    if value is None:
        return ""
    number = float(value)
    if number.is_integer():
        return str(int(number))
    known = locale_format(locale)
    text = repr(number)
    if known is not None and "e" not in text:
        return text.replace(".", known.separator)
    sign, digits, exponent = Decimal(text).as_tuple()
    return f"{'-' if sign else ''}{''.join(map(str, digits))}e{exponent}"
