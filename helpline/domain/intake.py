"""The intake assistant's rules: scripts as data, and the walk through their steps.

A script (helpline/intake/scripts/<language>.json, format in docs/intake.md) holds
the texts and steps of one language. The walk is: choose a language (buttons in
every supported language), then the script's steps in order (age, topic, danger,
an optional few words). Answers become conversation metadata from closed lists
(language, age band, exploitation form, urgent); free text is only looked at (for
its language and for urgent words) and never kept.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

LANGUAGE_STEP = "language"
TOPIC_TO_FORM = {"criminal": "criminal", "sexual": "sexual", "labour": "labour",
                 "other": "other"}
TEXT_KEYS = ("greeting", "skip", "done", "urgent", "offline", "return_code",
             "invalid_choice", "invited")
STEP_IDS = ("age", "topic", "danger", "story")
# Arabic short vowels, shadda, sukun, dagger alef and tatweel are optional in writing:
# the urgent-word lists are written without them, and typed text is read without them.
ARABIC_MARKS = re.compile("[\u0640\u064b-\u065f\u0670]")


def urgent_form(text: str) -> str:
    """How text and urgent words are compared: lowercase, no Arabic vowel marks."""
    return ARABIC_MARKS.sub("", text.lower())


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class Step:
    id: str
    question: str
    free_text: bool
    choices: tuple[Choice, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"step": self.id, "text": self.question, "free_text": self.free_text,
                "choices": [{"value": c.value, "label": c.label} for c in self.choices]}


@dataclass(frozen=True)
class Script:
    language: str
    name: str
    texts: dict[str, str]
    steps: tuple[Step, ...]
    urgent_words: tuple[str, ...]

    def step(self, step_id: str) -> Step | None:
        return next((s for s in self.steps if s.id == step_id), None)

    def next_step(self, step_id: str) -> Step | None:
        ids = [s.id for s in self.steps]
        if step_id == LANGUAGE_STEP:
            return self.steps[0]
        position = ids.index(step_id)
        return self.steps[position + 1] if position + 1 < len(ids) else None

    def is_urgent(self, text: str) -> bool:
        lowered = urgent_form(text)
        return any(re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered)
                   for word in self.urgent_words)


def parse_script(data: dict[str, Any]) -> Script:
    """A script from its JSON form; ValueError for anything missing or out of shape."""
    texts = data["texts"]
    missing = [k for k in TEXT_KEYS if not isinstance(texts.get(k), str)]
    if missing:
        raise ValueError(f"{data.get('language')}: texts missing {missing}")
    steps = tuple(Step(s["id"], s["question"], bool(s["free_text"]),
                       tuple(Choice(c["value"], c["label"]) for c in s["choices"]))
                  for s in data["steps"])
    if tuple(s.id for s in steps) != STEP_IDS:
        raise ValueError(f"{data.get('language')}: steps must be {STEP_IDS}")
    return Script(str(data["language"]), str(data["name"]), dict(texts), steps,
                  tuple(urgent_form(w) for w in data["urgent_words"]))


def load_scripts() -> dict[str, Script]:
    """Every script shipped in helpline/intake/scripts, by language code."""
    out = {}
    folder = resources.files("helpline.intake") / "scripts"
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            script = parse_script(json.loads(entry.read_text(encoding="utf-8")))
            out[script.language] = script
    if not out:
        raise RuntimeError("no intake scripts found")
    reference = next(iter(out.values()))
    for script in out.values():
        for a, b in zip(script.steps, reference.steps, strict=True):
            if [c.value for c in a.choices] != [c.value for c in b.choices]:
                raise ValueError(f"{script.language}: step {a.id} choices differ")
    return out


def language_step(scripts: dict[str, Script], language: str) -> dict[str, Any]:
    """The first question: which language, with each language's native name."""
    script = scripts[language]
    return {"step": LANGUAGE_STEP, "text": script.texts["greeting"], "free_text": True,
            "choices": [{"value": code, "label": s.name} for code, s in sorted(
                scripts.items(), key=lambda item: (item[0] != language, item[0]))]}
