"""Realistic render styles: fields in free order inside sentences, next to distractor values of the same type.

The other styles (`maaza.data.render`) write each field once beside its label, so a model can learn to copy
the value after a label. Real texts are harder: an e-mail quotes an older message with an older order number,
a chat has a speaker who gets the date wrong and is corrected, notes mention the previous amount. These
styles make that the rule:

- `thread`: an e-mail reply (headers, greeting, the facts in sentences, a correction) above a quoted earlier
  message (`> `) that holds older values of some fields;
- `conversation`: a multi-speaker chat with timestamps; one speaker gives a wrong value, another corrects it;
- `notes`: free-form notes or a paragraph: shuffled fields, labels paraphrased or left out where the value's
  shape says what it is (an e-mail address, a URL, an ISO timestamp), "previously ..." asides;
- `pdf`: text pasted from a PDF: ragged two-column label/value lines, list tables aligned with spaces, a page
  footer and a "previous" line with distractor values.

Distractors come from a second record of the same schema (`RecordGenerator`), so they have each field's type
and format. Three properties hold by construction and are tested: every gold value is written verbatim
exactly as often as the gold values themselves contain it (distractors and filler never repeat a gold value),
a distractor never equals its field's value, and only fields present in the record are written (an optional
field the record lacks is in neither the text nor its distractors).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from maaza.data import vocab
from maaza.data.render import (
    REALISTIC_STYLES,
    Labeler,
    Node,
    build_tree,
    join_parts,
    render,
    schema_title,
    surface,
)
from maaza.data.validate import occurrences, record_leaves

_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_ATTEMPTS = 6
_ORDINALS = ("First", "Second", "Third", "Fourth", "Fifth", "Sixth", "Seventh", "Eighth", "Ninth", "Tenth",
             "Next")


@dataclass
class Fact:
    """One gold value to write (a leaf, or a list of scalars): its label, value(s), and a distractor or None."""

    label: str
    values: list[Any]
    decoy: Any = None

    @property
    def text(self) -> str:
        return ", ".join(surface(value) for value in self.values)

    @property
    def value(self) -> Any:
        return self.values[0]


@dataclass
class Block:
    """The facts of one object: the record itself (heading ""), a nested object, or one list item."""

    heading: str
    facts: list[Fact]
    group: str  # blocks of one list share a group and keep their order (list order is part of the answer)


# ---------------------------------------------------------------------------------------- facts


def _value_at(record: Any, keys: tuple[Any, ...]) -> Any:
    for key in keys:
        if isinstance(record, dict) and isinstance(key, str):
            record = record.get(key)
        elif isinstance(record, list) and isinstance(key, int) and record:
            record = record[min(key, len(record) - 1)]
        else:
            return None
        if record is None:
            return None
    return record if not isinstance(record, dict | list) else None


def _shape(value: Any) -> str:
    """What a bare value says about itself: 'email', 'url', 'datetime', or '' (needs a label)."""
    if not isinstance(value, str):
        return ""
    if re.fullmatch(r"[^@\s]+@[^@\s]+\.\w+", value):
        return "email"
    if value.startswith(("http://", "https://")):
        return "url"
    return "datetime" if _ISO_DATETIME.match(value) else ""


def collect_blocks(tree: Node, decoy_record: Any, rng: random.Random, decoy_prob: float) -> list[Block]:
    """The tree as blocks of facts; some single-valued facts get a distractor: the decoy record's value at the
    same path, kept only when it shares no text with any gold value (so it can never repeat or mask one)."""
    gold = [surface(value) for value in _all_values(tree)]
    blocks: list[Block] = []

    def visit(node: Node, keys: tuple[Any, ...], heading: str, group: str) -> None:
        facts: list[Fact] = []
        nested: list[tuple[Node, tuple[Any, ...]]] = []
        for child in node.children:
            child_keys = (*keys, child.key)
            if child.kind == "leaf":
                facts.append(_fact(child.label, child.value, _value_at(decoy_record, child_keys), rng, decoy_prob, gold))
            elif child.kind == "list" and all(item.kind == "leaf" for item in child.children):
                facts.append(Fact(child.label, [item.value for item in child.children]))
            else:
                nested.append((child, child_keys))
        blocks.append(Block(heading, facts, group))
        for child, child_keys in nested:
            name = f"{heading} {child.label}".strip() if heading and child.kind == "object" else child.label
            if child.kind == "object":
                visit(child, child_keys, name, f"{group}/{child.key}")
                continue
            for index, item in enumerate(child.children):  # "Second items": no digit a gold number could match
                item_heading = f"{_ORDINALS[min(index, len(_ORDINALS) - 1)]} {name.lower()}"
                if item.kind == "object":
                    visit(item, (*child_keys, index), item_heading, f"{group}/{child.key}[]")
                else:  # a list of lists or a mixed list: each item on its own
                    blocks.append(Block(item_heading, [Fact(child.label, [item.value])], f"{group}/{child.key}[]"))

    visit(tree, (), "", "")
    return [block for block in blocks if block.facts]


def _fact(label: str, value: Any, candidate: Any, rng: random.Random, decoy_prob: float, gold: list[str]) -> Fact:
    fact = Fact(label, [value])
    if (candidate is not None and not isinstance(candidate, bool) and not isinstance(value, bool)
            and type(candidate) is type(value) and rng.random() < decoy_prob
            and _is_clean_decoy(surface(candidate), gold)):
        fact.decoy = candidate
    return fact


def _all_values(node: Node) -> list[Any]:
    if node.kind == "leaf":
        return [node.value]
    return [value for child in node.children for value in _all_values(child)]


def _is_clean_decoy(text: str, gold: list[str]) -> bool:
    return bool(text) and all(text != form and not occurrences(form, text) and not occurrences(text, form)
                              for form in gold if form)


# ---------------------------------------------------------------------------------------- phrasing


def _phrase(fact: Fact, rng: random.Random, bare_ok: bool) -> str:
    label, value = fact.label.lower() or "value", fact.text
    shape = _shape(fact.value) if len(fact.values) == 1 else ""
    if bare_ok and fact.decoy is None and shape and rng.random() < 0.5:
        return rng.choice({
            "email": (f"you can reach them at {value}", f"mail goes to {value}", f"contact: {value}"),
            "url": (f"see {value}", f"link: {value}", f"it's at {value}"),
            "datetime": (f"logged {value}", f"as of {value}", f"at {value}"),
        }[shape])
    return rng.choice((f"the {label} is {value}", f"{label} {value}", f"{label}: {value}",
                       f"{value} for the {label}", f"{label} = {value}", f"{label} should be {value}"))


def _aside(fact: Fact, rng: random.Random) -> str:
    label, old = fact.label.lower() or "value", surface(fact.decoy)
    return rng.choice((f"(previously {old})", f"(not {old})", f"(the old {label} was {old})",
                       f"(ignore {old} from before)", f"(changed from {old})"))


def _block_sentences(block: Block, rng: random.Random, *, asides: bool, bare_ok: bool) -> list[str]:
    """Sentences for one block: facts in shuffled order, one to three per sentence, the heading first."""
    facts = list(block.facts)
    rng.shuffle(facts)
    out: list[str] = []
    index = 0
    while index < len(facts):
        group = facts[index:index + rng.randint(1, 3)]
        index += len(group)
        parts = []
        for fact in group:
            part = _phrase(fact, rng, bare_ok and not block.heading)
            if asides and fact.decoy is not None:
                part += " " + _aside(fact, rng)
            parts.append(part)
        sentence = join_parts(parts, rng.choice((", ", "; ", " and ")))
        if block.heading and not out:
            sentence = rng.choice((f"{block.heading}: ", f"For {block.heading.lower()}, ", f"{block.heading} - ")) + sentence
        if not sentence.startswith(group[0].text):  # a value keeps its case, even first in a sentence
            sentence = sentence[:1].upper() + sentence[1:]
        out.append(sentence + ("" if sentence.endswith((".", "!", "?", ")")) else "."))
    return out


def _people(rng: random.Random, gold: list[str], count: int) -> list[str]:
    """First names for speakers and senders that share no text with a gold value."""
    names = [name for name in vocab.FIRST_NAMES if _is_clean_decoy(name, gold)]
    rng.shuffle(names)
    return (names or ["Sam", "Alex", "Jo"])[:count]


def _shuffled(blocks: list[Block], rng: random.Random) -> list[Block]:
    """Free order: shuffle the record's parts, but keep the items of one list together and in order."""
    groups: dict[str, list[Block]] = {}
    for block in blocks:
        groups.setdefault(block.group, []).append(block)
    order = list(groups.values())
    rng.shuffle(order)
    return [block for group in order for block in group]


# ---------------------------------------------------------------------------------------- styles


@dataclass
class Scene:
    rng: random.Random
    title: str
    blocks: list[Block]

    @property
    def facts(self) -> list[Fact]:
        return [fact for block in self.blocks for fact in block.facts]

    @property
    def gold(self) -> list[str]:
        return [surface(value) for fact in self.facts for value in fact.values]

    @property
    def decoys(self) -> list[Fact]:
        return [fact for fact in self.facts if fact.decoy is not None]


def render_thread(scene: Scene) -> str:
    """An e-mail reply above a quoted earlier message that holds older values of some fields."""
    rng = scene.rng
    me, other, old_sender = _people(rng, scene.gold, 3)
    title = scene.title.lower()
    body = [s for block in _shuffled(scene.blocks, rng) for s in _block_sentences(block, rng, asides=False, bare_ok=True)]
    fixes = scene.decoys[: rng.randint(1, 2)]
    correction = [f"Note the {fact.label.lower()} is {fact.text}, not {surface(fact.decoy)} as in the earlier mail."
                  for fact in fixes if rng.random() < 0.5]
    quoted = [f"{fact.label}: {surface(fact.decoy)}" for fact in scene.decoys]
    lines = [f"From: {me}", f"To: {other}", f"Subject: RE: {scene.title}", "",
             rng.choice((f"Hi {other},", f"Hello {other},", f"{other} -")), "",
             rng.choice((f"Here is the corrected {title}.", f"Updated details of the {title} below.",
                         f"Following up on the {title}.", "As discussed, the final version:")),
             (" " if rng.random() < 0.5 else "\n").join(body + correction), "",
             rng.choice(("Thanks,", "Best,", "Cheers,", "Regards,")), me]
    if quoted:
        lines += ["", f"> {old_sender} wrote earlier:",
                  "> " + rng.choice((f"draft of the {title}:", f"first version of the {title}:", "what we had:"))]
        lines += [f"> {line}" for line in quoted]
    return "\n".join(lines)


def render_conversation(scene: Scene) -> str:
    """A multi-speaker chat; a speaker gives an old value of a field and another corrects it."""
    rng = scene.rng
    speakers = _people(rng, scene.gold, 3)
    turns: list[tuple[str, str]] = [(speakers[0], rng.choice((f"can we sort out the {scene.title.lower()}?",
                                                               f"need the {scene.title.lower()} details", "quick q")))]
    for block in _shuffled(scene.blocks, rng):
        if block.heading:
            turns.append((rng.choice(speakers), f"{block.heading.lower()}:"))
        for fact in block.facts:
            if fact.decoy is not None and rng.random() < 0.6:
                turns.append((speakers[1], f"{fact.label.lower()} was {surface(fact.decoy)} right?"))
                turns.append((speakers[-1], rng.choice((f"no, {fact.text}", f"nope it's {fact.text} now",
                                                        f"{fact.text} actually"))))
            else:
                turns.append((rng.choice(speakers), _phrase(fact, rng, not block.heading)))
        if rng.random() < 0.2:
            turns.append((rng.choice(speakers), rng.choice(("ok", "thx", "got it", "👍", "one sec"))))
    minute = rng.randint(7, 20) * 60 + rng.randint(0, 59)
    stamps = rng.random() < 0.6  # a stamp that repeats a gold number makes the text re-drawn
    lines = []
    for speaker, message in turns:
        minute += rng.randint(0, 3)
        stamp = f"[{minute // 60 % 24:02d}:{minute % 60:02d}] " if stamps else ""
        lines.append(f"{stamp}{speaker}: {message}")
    return "\n".join(lines)


def render_notes(scene: Scene) -> str:
    """Free-form notes (bullets) or one paragraph, fields shuffled, old values in asides."""
    rng = scene.rng
    sentences = [s for block in _shuffled(scene.blocks, rng)
                 for s in _block_sentences(block, rng, asides=True, bare_ok=True)]
    if rng.random() < 0.5:
        mark = rng.choice(("-", "*", "•"))
        return (rng.choice((f"Notes - {scene.title}", f"{scene.title} (notes)", "notes:")) + "\n"
                + "\n".join(f"{mark} {s}" for s in sentences))
    return " ".join(sentences)


def render_pdf(scene: Scene) -> str:
    """Text pasted from a PDF: ragged label/value columns, a heading per part, superseded values below."""
    rng = scene.rng
    width = rng.randint(16, 24)
    lines = [scene.title.upper()]
    for block in scene.blocks:
        lines.append("")
        if block.heading:
            lines.append(block.heading)
        row: list[str] = []
        for fact in block.facts:
            row.append(f"{fact.label}{' ' * max(1, width - len(fact.label))}{fact.text}")
            if len(row) == 2 or rng.random() < 0.5:
                lines.append((" " * rng.randint(3, 8)).join(row))
                row = []
        if row:
            lines.append(row[0])
    previous = scene.decoys[:3]
    if previous:
        lines += ["", rng.choice(("Previous statement", "Superseded values", "Prior version (void)")) + ":"]
        lines += [f"  {fact.label}  {surface(fact.decoy)}" for fact in previous]
    lines += ["", rng.choice(("Page one", "-- end of page --", "Continued overleaf? no"))]
    return "\n".join(lines)


RENDERERS: dict[str, Callable[[Scene], str]] = {
    "thread": render_thread, "conversation": render_conversation, "notes": render_notes, "pdf": render_pdf,
}


def extra_mentions(record: Any, text: str) -> list[str]:
    """Gold values written more often than the gold values themselves contain them (empty for our texts)."""
    forms = [surface(value) for _, value in record_leaves(record)]
    joined = "\n".join(forms)
    return sorted(form for form in set(forms) if form and occurrences(form, text) > occurrences(form, joined))


def render_realistic(record: Any, schema: dict[str, Any], style: str, rng: random.Random, *,
                     title: str = "", decoy_prob: float = 0.5) -> str:
    """Render `record` in one realistic style, re-drawn (a few times; the last try without distractors) while
    filler text would repeat a gold value. Returns "" when no try is clean, which the grounding validator
    rejects, so no written text ever repeats a gold value."""
    from maaza.data.records import RecordGenerator

    if style not in RENDERERS:
        raise ValueError(f"unknown realistic style '{style}'; choose from {', '.join(REALISTIC_STYLES)}")
    title = title or schema_title(schema, "record")
    decoy, _ = RecordGenerator(schema).generate_valid(random.Random(rng.random()))
    for attempt in range(_ATTEMPTS):
        labeler = Labeler(rng, rng.choice(("sentence", "lower", "title")), synonym_prob=0.5)
        tree = build_tree(record, schema, labeler)
        blocks = collect_blocks(tree, decoy if attempt < _ATTEMPTS - 1 else None, rng, decoy_prob)
        text = RENDERERS[style](Scene(rng, title, blocks)).strip()
        if not extra_mentions(record, text):
            return text
    return ""


def render_any(record: Any, schema: dict[str, Any], style: str, rng: random.Random, *, title: str = "") -> str:
    """Render `record` in any style of `maaza.data.render.STYLES`: the realistic ones here, the others there."""
    if style in REALISTIC_STYLES:
        return render_realistic(record, schema, style, rng, title=title)
    return render(record, schema, style, rng, title=title)
