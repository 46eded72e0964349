"""Undoing mojibake: UTF-8 text that was read as Mac Roman, Windows-1252 or Latin-1 (once or
twice) and saved again; and naming the damage that cannot be undone.

A UTF-8 multi-byte sequence is made only of bytes >= 0x80, so its misreading is a run of
non-ASCII characters. A run that, encoded back in the charset it was misread as, is valid UTF-8
was such a misreading; genuine text (é is 0x8E in Mac Roman and 0xE9 in Windows-1252, a lone
byte that no UTF-8 sequence has) is not.
"""

from __future__ import annotations

import re
import unicodedata

_NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]+")
# Windows-1252 leaves five bytes undefined; the readers that keep them (browsers, Windows)
# give the C1 control character of the same number, as Latin-1 gives for all of 0x80-0x9f.
# So one "sloppy" Windows-1252 undoes both Windows-1252 and Latin-1 misreadings.
MISREADINGS = ("mac_roman", "sloppy-1252")
# Passes over the text: a document misread twice needs two.
PASSES = 3


def _encode(run: str, charset: str) -> bytes | None:
    if charset == "mac_roman":
        try:
            return run.encode("mac_roman")
        except UnicodeEncodeError:
            return None
    out = bytearray()
    for ch in run:
        try:
            out += ch.encode("cp1252")
        except UnicodeEncodeError:
            if not 0x80 <= ord(ch) <= 0xFF:
                return None
            out.append(ord(ch))  # a C1 control character, or Latin-1's reading of an undefined byte
    return bytes(out)


def _undo(match: re.Match) -> str:
    run = match.group(0)
    for charset in MISREADINGS:
        raw = _encode(run, charset)
        if raw is None:
            continue
        try:
            fixed = raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        # A misreading can round-trip by accident into combining marks or control characters
        # (Latin-1's "Ã©" read back as Mac Roman gives U+0329): not a repair.
        if fixed != run and not any(unicodedata.combining(ch) or unicodedata.category(ch) in ("Cc", "Cn")
                                    for ch in fixed):
            return fixed
    return run


def repair(text: str) -> str:
    """The text with mojibake undone and nothing else changed."""
    for _ in range(PASSES):
        fixed = _NON_ASCII_RUN.sub(_undo, text)
        if fixed == text:
            break
        text = fixed
    # ftfy catches mixed cases the run rule leaves. Only its encoding fix: its other repairs
    # (HTML entities, quotes, line breaks) would change what the user wrote on purpose.
    import ftfy  # a quarter second to import: only for a document actually read

    return ftfy.fix_encoding(text)


def _telltale(charset: str) -> re.Pattern:
    """How the first two bytes of a symbol (0xE2: ✅ ❌ ░ █) or an emoji (0xF0: 🔴) look after a
    misreading: the lead byte's character followed by a continuation byte's (0x80-0xBF)."""
    def chars(raw: bytes) -> str:
        if charset == "mac_roman":
            return raw.decode("mac_roman")
        return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in raw)
    return re.compile(f"[{re.escape(chars(bytes([0xE2, 0xF0])))}][{re.escape(chars(bytes(range(0x80, 0xC0))))}]")


_TELLTALES = (("Windows-1252 or Latin-1", _telltale("sloppy-1252")), ("Mac Roman", _telltale("mac_roman")))


def diagnose(line: str) -> str | None:
    """What damage is left in a line after repair(), in words; None when it looks clean."""
    if "\ufffd" in line:
        return ("it holds U+FFFD (\ufffd), the replacement character: text was read in a wrong encoding and "
                "a character that charset lacks was lost, so it cannot be restored automatically")
    if any(0x80 <= ord(ch) <= 0x9F for ch in line):
        return "it holds C1 control characters: UTF-8 text read as Latin-1 or Windows-1252 and saved again"
    for charset, telltale in _TELLTALES:
        found = telltale.search(line)
        if found:
            return (f"{found.group(0)!r} is how a UTF-8 symbol looks when read as {charset}, "
                    "and this one could not be undone")
    return None


_UTF8_SEQUENCE = re.compile(rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}")


def not_utf8_cause(data: bytes) -> tuple[str, str]:
    """Why bytes are not UTF-8, and what to do: a file saved wholly in a single-byte charset is
    converted as a whole; one with some valid UTF-8 too must be fixed where it breaks."""
    if _UTF8_SEQUENCE.search(data) is None:
        return ("the file is in a single-byte encoding (Windows-1252 or Latin-1, most likely), not UTF-8",
                "convert it: iconv -f WINDOWS-1252 -t UTF-8 FILE > FILE.utf8 && mv FILE.utf8 FILE")
    return ("a character there was saved in another encoding (Windows-1252 or Latin-1, most likely) "
            "while the rest is UTF-8",
            "open the file as UTF-8 and retype that character, then run the command again")
