"""Which language to answer in: the young person's own choice first, then what their
free text looks like (langdetect, seeded so it answers the same every time), then
their browser's language, then the helpline's default.

Detection on a few words is unreliable (docs/intake.md has the measured accuracy),
so it decides only when the text is long enough and the detector is confident, and
only among the languages the helpline has scripts for.
"""

from __future__ import annotations

from collections.abc import Collection

from langdetect import DetectorFactory, detect_langs
from langdetect.lang_detect_exception import LangDetectException

DetectorFactory.seed = 0

MIN_WORDS = 4
MIN_PROBABILITY = 0.80


def detect(text: str, supported: Collection[str]) -> str | None:
    """The supported language `text` is in, or None when unsure. Nothing is kept."""
    if len(text.split()) < MIN_WORDS:
        return None
    try:
        guesses = detect_langs(text)
    except LangDetectException:
        return None
    for guess in guesses:
        if guess.lang in supported and guess.prob >= MIN_PROBABILITY:
            return str(guess.lang)
    return None


def browser_language(tag: str | None, supported: Collection[str]) -> str | None:
    """'pl-PL' -> 'pl' when supported."""
    if not tag:
        return None
    base = tag.split("-")[0].lower()
    return base if base in supported else None


def choose_language(choice: str | None, detected: str | None, browser: str | None,
                    default: str) -> str:
    return choice or detected or browser or default
