"""Undoing mojibake without touching anything the user wrote on purpose."""

import pytest

from toolkit.textfix import diagnose, repair


@pytest.mark.parametrize("damaged,repaired", [
    ("\uf8ffüî¥ Not Started", "🔴 Not Started"),            # UTF-8 read as Mac Roman (the seed)
    ("[‚ñë‚ñë‚ñà] 10%", "[░░█] 10%"),
    ("tables ‚úÖ/‚ùå", "tables ✅/❌"),
    ("cafÃ©", "café"),                                       # UTF-8 read as Latin-1
])
def test_mojibake_is_undone(damaged, repaired):
    assert repair(damaged) == repaired


@pytest.mark.parametrize("text", [
    "café naïve Zürich — “quoted” ‘single’ …",
    "a &lt;tag&gt; &amp; entity",
    "line one\r\nline two\r\n",
    "tabs\tand  spaces  ",
    "🔴 🟡 🟢 ✅ ❌ ░ █",
])
def test_intended_text_is_kept(text):
    assert repair(text) == text


def _sloppy_1252(text: str) -> str:
    return "".join(bytes([b]).decode("cp1252", errors="ignore") or chr(b) for b in text.encode("utf-8"))


MISREAD = {
    "mac roman": lambda t: t.encode().decode("mac_roman"),
    "windows-1252": _sloppy_1252,
    "latin-1": lambda t: t.encode().decode("latin-1"),
    "utf-8 decoded twice (windows-1252)": lambda t: _sloppy_1252(_sloppy_1252(t)),
    "utf-8 decoded twice (mac roman)": lambda t: t.encode().decode("mac_roman").encode().decode("mac_roman"),
}
GOOD = ["**Status:** 🔴 Not Started", "Phase 0: Safety  [███░░░░░░░] 29%", "- [ ] Manual test: tables ✅/❌",
        "Phase 0: Safety Infrastructure        [░░░░░░░░░░] 0%",  # what ftfy alone leaves as it is
        "| `quote` | ⚪ Rolled Back | - | café |"]


@pytest.mark.parametrize("misread", MISREAD.values(), ids=MISREAD.keys())
@pytest.mark.parametrize("line", GOOD)
def test_each_common_misreading_is_undone(misread, line):
    damaged = misread(line)
    assert damaged != line
    assert repair(damaged) == line


@pytest.mark.parametrize("line, found", [
    ("tables â\ufffdŒ", "U+FFFD"),                 # Windows-1252 that dropped an undefined byte
    ("[â–‘â–‘]", "read as Windows-1252 or Latin-1"),
    ("x ‚ñë", "read as Mac Roman"),
    ("a \x9d b", "C1 control characters"),
])
def test_damage_that_is_left_is_named(line, found):
    assert found in diagnose(line)


@pytest.mark.parametrize("line", ["café–bar", "pâte âge", "🔴 ✅ ░", "naïve “quoted”"])
def test_clean_text_is_not_called_damaged(line):
    assert diagnose(line) is None
