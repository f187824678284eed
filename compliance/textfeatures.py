"""What a rule may ask of a free-text field: questions Python answers, the rule decides.

A rule file names a feature as a field of the fact, `<field>__<feature>` (e.g.
`text__personal_number`), and compares it with 0 or 1 like any field. The text itself
never leaves the engine's facts: no finding, draft or report quotes it.

- `personal_number`: the text holds a full personal number or samordningsnummer (10 or 12
  digits, a valid date, a valid check digit), in any spelling (`compliance.privacy`).
- `names`: the text holds a word that could be a name: a capitalised word that is not part
  of an invitation's permitted content (the title "Kallelse till samordnad individuell
  plan", initials, the first six digits of the personal number, dates and times, and the
  few words of a meeting notice). Region Gotland's rule: "I mailet får endast stå; Kallelse
  till samordnad individuell plan, barnets/den unges initialer samt de 6 första siffrorna
  i hans/hennes personnummer. Inget annat som kan röja person får skrivas i mailet."
"""

from __future__ import annotations

import re
from typing import Callable

# Words an invitation e-mail may hold besides the title: a meeting notice's vocabulary.
_PERMITTED = {
    "kallelse", "till", "samordnad", "individuell", "plan", "sip", "sip-möte", "möte", "mötet",
    "uppföljning", "uppföljningsmöte", "datum", "tid", "plats", "kl", "klockan", "den", "och",
    "i", "på", "med", "för", "om", "vid", "se", "bifogad", "bifogat", "bilaga", "välkommen",
    "välkomna", "hälsningar", "vänliga", "mvh", "personnummer", "initialer", "barnet",
    "barnets", "ungdomens", "elev", "eleven", "ärende", "ärendet", "samtycke", "enligt",
    "rum", "lokal", "digitalt", "teams", "via", "länk", "anmälan", "svara", "senast",
    "januari", "februari", "mars", "april", "maj", "juni", "juli", "augusti", "september",
    "oktober", "november", "december", "måndag", "tisdag", "onsdag", "torsdag", "fredag",
    "lördag", "söndag",
}
_INITIALS = re.compile(r"^(?:[A-ZÅÄÖ]\.?){1,3}$|^(?:[A-ZÅÄÖ]\.\s?){1,3}$")
_WORD = re.compile(r"[A-Za-zÅÄÖåäöÉéÜü][A-Za-zÅÄÖåäöÉéÜü-]*\.?")


def has_personal_number(text: str) -> int:
    from .privacy import contains_personal_number
    return int(contains_personal_number(text))


def has_names(text: str) -> int:
    for match in _WORD.finditer(text or ""):
        word = match.group(0)
        bare = word.rstrip(".").lower()
        if bare in _PERMITTED or _INITIALS.match(word) or _INITIALS.match(word.rstrip(".")):
            continue
        if word[0].isupper() and len(word.rstrip(".")) >= 2:
            return 1
    return 0


FEATURES: dict[str, Callable[[str], int]] = {
    "personal_number": has_personal_number,
    "names": has_names,
}


def split(field: str) -> tuple[str, str] | None:
    """`text__names` -> ("text", "names"); None for a plain field."""
    base, sep, feature = field.partition("__")
    return (base, feature) if sep and feature in FEATURES else None
