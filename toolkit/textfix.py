"""Repairing text whose UTF-8 was read as Mac Roman (or similar) and saved again."""

from __future__ import annotations

import re
import unicodedata

import ftfy

# A UTF-8 multi-byte sequence is made only of bytes >= 0x80, so its Mac Roman misreading is a
# run of non-ASCII characters. A run that round-trips to valid UTF-8 was such a misreading;
# genuine accented text (é is 0x8E in Mac Roman, a lone continuation byte) does not.
_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")


def _undo_mac_roman(match: re.Match) -> str:
    run = match.group(0)
    try:
        fixed = run.encode("mac_roman").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return run
    # Another misreading can round-trip by accident into combining marks or control
    # characters (Latin-1's "Ã©" would become U+0329): leave those to ftfy.
    if any(unicodedata.combining(ch) or unicodedata.category(ch) in ("Cc", "Cn") for ch in fixed):
        return run
    return fixed


def repair(text: str) -> str:
    """The text with mojibake undone and nothing else changed."""
    text = _NON_ASCII_RUN.sub(_undo_mac_roman, text)
    # ftfy catches the other common misreadings (Windows-1252, Latin-1). Only its encoding
    # fix: its other repairs (HTML entities, quotes, line breaks) would change what the user
    # wrote on purpose.
    return ftfy.fix_encoding(text)
