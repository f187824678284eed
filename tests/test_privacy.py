"""redact(): the shortcuts it takes (a cache, a quick look for six digits in a row) never
change what it blanks."""

from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.privacy import PERSONAL_NUMBER_RE, REDACTED, redact

# Digits, the separators of a personal number and a little text around them.
TEXT = st.text(alphabet=st.sampled_from(list("0123456789-+ aR_.٣")), min_size=0, max_size=40)


@settings(max_examples=500)
@given(TEXT)
def test_redact_blanks_exactly_what_the_pattern_matches(text):
    expected = PERSONAL_NUMBER_RE.sub(REDACTED, text) if len(text) >= 10 else text
    assert redact(text) == expected
    assert redact(text) == expected          # the second time from the cache


def test_redact_blanks_personal_numbers_in_every_form():
    for number in ("19121212-1212", "191212121212", "121212-1212", "1212121212", "121212+1212"):
        assert redact(f"barnet {number} i texten") == f"barnet {REDACTED} i texten"
    assert redact("R000001-08, möte 2025-03-14") == "R000001-08, möte 2025-03-14"
    assert redact(None) == "" and redact(42) == 42
