"""Undoing mojibake without touching anything the user wrote on purpose."""

import pytest

from toolkit.textfix import repair


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
