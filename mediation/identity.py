"""The parties' identity numbers and phone numbers: checked by their format, masked for most eyes.

A resident identity number (GB 11643-1999) has 17 digits and a check character computed from them
(ISO 7064 MOD 11-2: weights 2^(17-i) mod 11, 0-9 or X); the seventh to fourteenth digits are the birth date.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"  # the check character for each remainder 0..10
_ID_FORM = re.compile(r"\d{17}[\dX]")
# A mainland mobile number, or a landline with its area code (0349 is Shuozhou's).
_MOBILE = re.compile(r"1[3-9]\d{9}")
_LANDLINE = re.compile(r"0\d{2,3}\d{7,8}")


def clean(value: str) -> str:
    """Full-width digits folded, spaces and dashes removed, ``x`` upper-cased: what people type, as one form."""
    folded = unicodedata.normalize("NFKC", value or "")
    return re.sub(r"[\s\-]", "", folded).upper()


def id_check_character(first17: str) -> str:
    return ID_CHECK[sum(int(d) * w for d, w in zip(first17, ID_WEIGHTS, strict=True)) % 11]


def valid_id_number(value: str) -> bool:
    """Whether ``value`` (already :func:`clean`) is a well-formed identity number: form, birth date, check character."""
    if not _ID_FORM.fullmatch(value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    return born.year >= 1900 and value[17] == id_check_character(value[:17])


def valid_phone(value: str) -> bool:
    """Whether ``value`` (already :func:`clean`) is a mobile number or a landline with its area code."""
    return bool(_MOBILE.fullmatch(value) or _LANDLINE.fullmatch(value))


def mask_id(value: str) -> str:
    """The region (first 6) and the last character: a clerk can tell two people apart, nobody can read it."""
    return value[:6] + "*" * (len(value) - 7) + value[-1:] if len(value) > 7 else "*" * len(value)


def mask_phone(value: str) -> str:
    return value[:3] + "*" * (len(value) - 7) + value[-4:] if len(value) > 7 else "*" * len(value)
