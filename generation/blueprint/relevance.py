"""The relevance check: from the prompt alone, the names of the things and fields a person asked for,
so a scorer can count how many of them the built page really shows (sandbox/smoke.py's
`expected_terms`). An app that builds and runs but is not what was asked shows few of them.

It reads the prompt the way the blueprint planner does, and keeps only names whose words the prompt
itself uses: a field the planner added on its own (a title nobody asked for) is not a term, and for an
idea the blueprint cannot write (a game) the terms are the game's own words ("tiles", "score"), which a
substitute app does not show.
"""

from __future__ import annotations

import re

from generation.blueprint import languages, planner


def expected_terms(prompt: str) -> list[str]:
    """The things and fields `prompt` names, lower case, as a page would show them ("books", "due
    date", "fréquence d'arrosage"); no duplicates, in the order the prompt names them."""
    plan = planner.plan_app(prompt, scope=False)
    said = _stems(prompt)
    terms: list[str] = []
    for entity in plan.entities:
        candidates = [entity.many.lower()] + [f.label.split(" (")[0].lower() for f in entity.fields]
        for term in candidates:
            words = _stems(term)
            if words and words <= said and term not in terms:
                terms.append(term)
    return terms


def shown(terms: list[str], page_text: str) -> int:
    """How many of terms the page text shows (a term also counts in the singular: "book" for "books")."""
    text = page_text.lower()
    return sum(1 for term in terms if term in text or term.endswith("s") and term[:-1] in text)


def _stems(text: str) -> set[str]:
    """Words of at least three letters, folded and cut to five letters ("dates" and "date" agree)."""
    words = re.findall(r"[^\W\d_]{3,}", languages.ascii_fold(text.lower()))
    return {w[:5] for w in words}
