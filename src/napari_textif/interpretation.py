"""Prompt -> Controls: an offline, deterministic, explainable interpreter.

The prompt is split into words; a lexicon of phrases (degradations, modality
names, intensity words, negations, "is fine" statements, preferences) is matched
greedily, longest phrase first. Punctuation and joining words cut the word
stream into *segments* (split at ``,``, ``and``), *clauses* (also split at
``but``, ``while``, ``except``...) and *sentences* (split at ``.;!?``). Each
degradation word is attributed to the nearest modality word of its segment,
else to the modality of a neighbouring segment of the same clause, else to its
default camera. Negations and intensity words act on the words that follow them
within a short window of the same segment. Every non-zero control remembers the
words that set it, so the result can be explained. The phrases themselves are in
:mod:`napari_textif.vocabulary`.

Over 600 lines on purpose: tokenizer, matcher, segment structure and the two
readers (degradations, preferences) are one pipeline whose steps share the
``_Item``/``_Event`` records; split across files, a reader of one step would
need the others open beside it.

Examples
--------
>>> result = interpret("the visible image is very dark and the thermal camera is noisy")
>>> result.controls.summary()
'vis_low_light=0.80, ir_noise=0.60'
>>> result.phrases["vis_low_light"]
'visible image is very dark'
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import math
import re
from collections.abc import Callable, Iterable

from napari_textif import vocabulary
from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.pairkinds import DEFAULT_KIND, PairKind, get_kind

DEFAULT_STRENGTH = 0.6
DEFAULT_PREFERENCE = 0.6
#: How many words before a degradation word a negation or intensity word may stand.
WINDOW = 3
#: Longest prompt read, in characters. A prompt is a sentence or two; a pasted document is cut
#: (at the last word boundary before this) so that the widget, which interprets on every
#: keystroke, never stalls. The interpretation's notes say where the text was cut.
MAX_PROMPT_CHARS = 2000

@dataclasses.dataclass(frozen=True)
class Interpretation:
    """What a prompt (or the images, see :func:`napari_textif.detection.detect`) asks for.

    Attributes
    ----------
    controls : Controls
    phrases : dict of str to str
        For every non-zero control, the words of the prompt that set it (for
        detection: the measurement behind it).
    notes : tuple of str
        Anything not understood or worth telling the user.
    excluded : dict of str to str
        Controls the prompt explicitly ruled out ("no haze", "the infrared is
        fine"), with the words that did it.
    """

    controls: Controls
    phrases: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()
    excluded: dict[str, str] = dataclasses.field(default_factory=dict)

    def explain(self) -> str:
        """One line per non-zero control with the phrase that set it, then exclusions and notes.

        Examples
        --------
        >>> print(interpret("slightly hazy, no noise").explain())
        vis_haze = +0.30  <- 'slightly hazy'
        vis_noise excluded  <- 'no noise'
        ir_noise excluded  <- 'no noise'
        """
        lines = [
            f"{name} = {value:+.2f}  <- {self.phrases.get(name, '?')!r}"
            for name, value in self.controls.active().items()
        ]
        lines += [f"{name} excluded  <- {phrase!r}" for name, phrase in self.excluded.items()]
        return "\n".join(lines + list(self.notes)) or "neutral (plain fusion)"


def merge(said: Interpretation, detected: Interpretation) -> Interpretation:
    """Combine what the user said with what detection found; the user's words win.

    A degradation the prompt sets or rules out keeps the prompt's value; any other
    takes the detected strength. Preferences always come from the prompt.

    Examples
    --------
    >>> from napari_textif.controls import Controls
    >>> said = interpret("no haze, keep people bright")
    >>> found = Interpretation(Controls(vis_haze=0.7, vis_low_light=0.8), {"vis_low_light": "dark"})
    >>> merge(said, found).controls.summary()
    'vis_low_light=0.80, thermal_emphasis=+0.60'
    """
    values = said.controls.to_dict()
    phrases = dict(said.phrases)
    for name, value in detected.controls.active().items():
        if name in DEGRADATIONS and name not in said.phrases and name not in said.excluded:
            values[name] = value
            phrases[name] = f"detected: {detected.phrases.get(name, 'from the images')}"
    notes = said.notes + tuple(n for n in detected.notes if n not in said.notes)
    return Interpretation(Controls.from_dict(values), phrases, notes, dict(said.excluded))


# --- tokens and lexicon matching -----------------------------------------------------------------

_TOKEN = re.compile(r"\d+(?:\.\d+)?|[^\W\d_]+(?:['’][^\W\d_]+)?|[.;!?\n,&%]")


@dataclasses.dataclass
class _Item:
    cat: str
    value: object
    text: str  # the normalized words
    start: int  # first token index
    end: int  # one past the last token index
    cstart: int  # character span in the prompt
    cend: int
    seg: int = 0
    clause: int = 0
    sentence: int = 0


def _phrases(text: str) -> list[tuple[str, ...]]:
    return [tuple(p.replace("-", " ").replace("'", "").split()) for p in text.split(",") if p.strip()]


_Entry = tuple[tuple[str, ...], str, object]


def _build_lexicon(extra: Iterable[_Entry] = ()) -> dict[str, list[_Entry]]:
    entries: list[_Entry] = list(extra)
    add = entries.extend
    for family, levels in vocabulary.DEGRADATION_WORDS.items():
        for base, text in levels.items():
            add((p, "deg", (family, base)) for p in _phrases(text))
    for modality, text in vocabulary.MODALITY_WORDS.items():
        add((p, "mod", modality) for p in _phrases(text))
    for level, text in vocabulary.INTENSITY_WORDS.items():
        add((p, "int", level) for p in _phrases(text))
    for (pref, value), text in vocabulary.DIRECT_PREFERENCES.items():
        add((p, "pref", (pref, value)) for p in _phrases(text))
    v = vocabulary
    simple = {
        "neg": v.NEGATIONS, "skip": v.NOT_NEGATIONS, "ok": v.FINE_WORDS, "hot": v.THERMAL_TARGETS,
        "detail": v.DETAIL_TARGETS, "up": v.VERBS_UP, "down": v.VERBS_DOWN, "after": v.AFTER_TARGET,
        "unsupported": v.UNSUPPORTED, "weak": v.WEAK_BOUNDARIES, "strong": v.STRONG_BOUNDARIES,
        "task": v.TASK_WORDS,
    }
    for cat, text in simple.items():
        add((p, cat, " ".join(p)) for p in _phrases(text))
    add([((",",), "weak", ","), (("%",), "pct", "%")])
    add(((s,), "end", s) for s in vocabulary.SENTENCE_ENDS)
    lexicon: dict[str, list[tuple[tuple[str, ...], str, object]]] = {}
    for words, cat, value in entries:
        lexicon.setdefault(words[0], []).append((words, cat, value))
    for options in lexicon.values():
        options.sort(key=lambda e: -len(e[0]))  # longest phrase first, stable otherwise
    return lexicon


def _deletions(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))} | {word}


def _build_fuzzy() -> dict[str, str]:
    table: dict[str, str] = {}
    for target in vocabulary.FUZZY_TARGETS:
        for key in _deletions(target):
            table.setdefault(key, target)
    return table


_LEXICON = _build_lexicon()
_FUZZY = _build_fuzzy()
#: What the two cameras are called in notes, by default.
_LABELS = {"ir": "infrared", "vis": "visible"}


@functools.cache
def _kind_lexicon(name: str) -> dict[str, list[_Entry]]:
    """The lexicon plus the role names and targets of a pair kind (:data:`vocabulary.ROLE_WORDS`)."""
    pair = get_kind(name)
    if pair.is_default:
        return _LEXICON
    entries: list[_Entry] = []
    for role in pair.roles:
        camera = "ir" if role.slot == "infrared" else "vis"
        entries += [(p, "mod", camera) for p in _phrases(vocabulary.ROLE_WORDS.get(role.name, ""))]
        target = "hot" if camera == "ir" else "detail"
        entries += [(p, target, " ".join(p)) for p in _phrases(vocabulary.ROLE_TARGETS.get(role.name, ""))]
    return _build_lexicon(entries)


def _kind_labels(pair: PairKind) -> dict[str, str]:
    if pair.is_default:
        return _LABELS
    return {"ir" if r.slot == "infrared" else "vis": r.label for r in pair.roles}


def _normalize(word: str) -> str:
    word = word.lower().replace("’", "'")
    if word.endswith("'s"):
        word = word[:-2]
    word = word.replace("'", "")
    word = vocabulary.ALIASES.get(word, word)
    if 6 <= len(word) <= 16 and word not in _LEXICON:
        for key in _deletions(word):
            if key in _FUZZY and _FUZZY[key][0] == word[0]:
                return _FUZZY[key]
    return word


def _tokenize(prompt: str) -> tuple[list[str], list[tuple[int, int]]]:
    words, spans = [], []
    for match in _TOKEN.finditer(prompt):
        words.append(_normalize(match.group()))
        spans.append(match.span())
    return words, spans


def _match(
    words: list[str], spans: list[tuple[int, int]], lexicon: dict[str, list[_Entry]] = _LEXICON
) -> list[_Item]:
    items: list[_Item] = []
    i = 0
    while i < len(words):
        found = _match_at(words, i, lexicon)
        if found is None:
            cat, value, n = _number_or_word(words[i])
        else:
            cat, value, n = found
        text = " ".join(words[i : i + n])
        items.append(_Item(cat, value, text, i, i + n, spans[i][0], spans[i + n - 1][1]))
        i += n
    return items


def _number_or_word(word: str) -> tuple[str, object, int]:
    try:
        return "num", float(word), 1
    except ValueError:
        return "word", word, 1


def _match_at(words: list[str], i: int, lexicon: dict[str, list[_Entry]]) -> tuple[str, object, int] | None:
    for phrase, cat, value in lexicon.get(words[i], ()):
        if tuple(words[i : i + len(phrase)]) == phrase:
            return cat, value, len(phrase)
    return None


# --- structure: coordination, segments, clauses, sentences ---------------------------------------

_FILLER = {"the", "image", "images", "camera", "cameras", "picture", "pictures", "sensor",
           "sensors", "channel", "channels", "frame", "frames", "one", "ones", "modality", "photo"}


def _merge_coordinated(items: list[_Item]) -> list[_Item]:
    """'visible and infrared (images)' -> one 'both' modality item; 'both' before a degradation is not one."""
    out: list[_Item] = []
    i = 0
    while i < len(items):
        item = items[i]
        if item.cat == "mod" and item.value == "both" and i + 1 < len(items) and items[i + 1].cat == "deg":
            item = dataclasses.replace(item, cat="word")
        partner = _coordinated_partner(items, i) if item.cat == "mod" else None
        if partner is not None:
            last = items[partner]
            out.append(_Item("mod", "both", "both", item.start, last.end, item.cstart, last.cend))
            i = partner + 1
            continue
        out.append(item)
        i += 1
    return out


def _coordinated_partner(items: list[_Item], i: int) -> int | None:
    j = i + 1
    while j < len(items) and items[j].cat == "word" and items[j].value in _FILLER:
        j += 1
    if j >= len(items) or items[j].value not in ("and", "&", "or", "plus", "as well as"):
        return None
    j += 1
    while j < len(items) and items[j].cat == "word" and items[j].value == "the":
        j += 1
    if j < len(items) and items[j].cat == "mod" and items[j].value not in ("both", items[i].value):
        return j
    return None


def _structure(items: list[_Item]) -> list[_Item]:
    """Assign segment, clause and sentence numbers; drop the boundary items themselves."""
    seg = clause = sentence = 0
    kept: list[_Item] = []
    for item in items:
        if item.cat == "end":
            seg, clause, sentence = seg + 1, clause + 1, sentence + 1
            continue
        if item.cat == "strong":
            seg, clause = seg + 1, clause + 1
            continue
        if item.cat == "weak":
            seg += 1
            continue
        if item.cat == "neg" and item.value == "nor":
            seg += 1
        item.seg, item.clause, item.sentence = seg, clause, sentence
        kept.append(item)
    return kept


# --- reading degradations --------------------------------------------------------------------------


@dataclasses.dataclass
class _Event:
    """One statement about a control, applied in prompt order."""

    control: str
    value: float  # strength; 0 with negated=True means "ruled out"
    phrase: str
    negated: bool = False
    weak: bool = False  # from a default camera: does not override an earlier exclusion


class _Reader:
    """Reads the matched items of one prompt into control events."""

    def __init__(self, prompt: str, items: list[_Item], labels: dict[str, str] = _LABELS) -> None:
        self.prompt = prompt
        self.items = items
        self.labels = labels
        self.events: list[tuple[int, _Event]] = []
        self.notes: list[str] = []
        self.segments: dict[int, tuple[int, int]] = {}
        for index, item in enumerate(items):
            first, _ = self.segments.get(item.seg, (index, index))
            self.segments[item.seg] = (first, index + 1)

    # helpers --------------------------------------------------------------------------------------

    def span(self, *members: _Item | None) -> str:
        present = [m for m in members if m is not None]
        text = self.prompt[min(m.cstart for m in present) : max(m.cend for m in present)]
        return " ".join(text.split())

    def positions(self, test: Callable[[_Item], bool]) -> dict[int, list[int]]:
        """segment -> the sorted indices of its items that pass ``test`` (one pass over the prompt)."""
        found: dict[int, list[int]] = {}
        for index, item in enumerate(self.items):
            if test(item):
                found.setdefault(item.seg, []).append(index)
        return found

    def emit(self, at: _Item, control: str, value: float, phrase: str, **flags: bool) -> None:
        self.events.append((at.start, _Event(control, value, phrase, **flags)))

    def before(
        self, index: int, cats: tuple[str, ...] | Callable[[_Item], bool], window: int = WINDOW
    ) -> int | None:
        """The nearest item of ``cats`` at most ``window`` words before ``index`` in its segment."""
        item = self.items[index]
        test = cats if callable(cats) else (lambda o: o.cat in cats)
        for j in range(index - 1, self.segments[item.seg][0] - 1, -1):
            other = self.items[j]
            if item.start - other.end >= window:
                return None
            if test(other):
                return j
            if other.cat == "deg" and cats == ("int",):
                return None  # "very dark, noisy": the intensity belongs to the first word
        return None

    def after(self, index: int, test: Callable[[_Item], bool], window: int) -> int | None:
        item = self.items[index]
        for j in range(index + 1, self.segments[item.seg][1]):
            other = self.items[j]
            if other.start - item.end >= window:
                return None
            if test(other):
                return j
        return None

    def scaled(self, base: float, modifier: int | None, floor: float) -> float:
        if modifier is None:
            return base
        level = float(self.items[modifier].value)  # type: ignore[arg-type]
        return round(min(max(base * level / DEFAULT_STRENGTH, floor), 1.0), 2)

    def number_near(self, index: int) -> tuple[float, _Item] | None:
        """'noise 0.3', 'haze: 80%', '0.5 blur'."""
        seg = self.items[index].seg
        for j in (index + 1, index + 2, index - 1):
            if not (0 <= j < len(self.items)) or self.items[j].cat != "num" or self.items[j].seg != seg:
                continue
            value = float(self.items[j].value)  # type: ignore[arg-type]
            percent = j + 1 < len(self.items) and self.items[j + 1].cat == "pct"
            value = value / 100.0 if percent else value
            if 0.0 <= value <= 1.0:
                return value, self.items[j + 1] if percent else self.items[j]
        return None


class _DegradationReader(_Reader):
    """Degradation words, their camera, negation and intensity; '... is fine' statements."""

    def read(self) -> None:
        # Item categories no longer change once this reader starts, so the positions of the
        # modality and degradation words are found once: every lookup below is a bisection or
        # a dictionary access, which keeps a long prompt linear (up to a log factor).
        self.clause_modalities: dict[int, list[int]] = {}
        self.sentence_modalities: dict[int, set[str]] = {}
        for index, item in enumerate(self.items):
            if item.cat == "mod":
                self.clause_modalities.setdefault(item.clause, []).append(index)
                self.sentence_modalities.setdefault(item.sentence, set()).add(str(item.value))
        self.segment_modalities = self.positions(lambda o: o.cat == "mod")
        self.segments_with_deg = set(self.positions(lambda o: o.cat == "deg"))
        for index, item in enumerate(self.items):
            if item.cat == "deg":
                self.read_one(index, item)
            elif item.cat == "unsupported":
                self.notes.append(f"{self.span(item)!r} is not something the controls can undo; ignored")
            elif item.cat == "ok":
                self.read_fine(index, item)

    def read_one(self, index: int, item: _Item) -> None:
        family, base = item.value  # type: ignore[misc]
        camera, mod_index, how = self.camera_for(index, family)
        cameras = ("vis", "ir") if camera == "both" else (camera,)
        mod_item = self.items[mod_index] if mod_index is not None else None
        negator = self.before(index, ("neg",))
        free = self.after(index, lambda o: o.value in vocabulary.POST_NEGATIONS, 1)
        if negator is not None or free is not None:
            phrase = self.span(mod_item, item, *(self.items[j] for j in (negator, free) if j is not None))
            for control in filter(None, (vocabulary.FAMILY_CONTROLS[family][c] for c in cameras)):
                self.emit(item, control, 0.0, phrase, negated=True)
            return
        strength, modifier = self.strength(index, base)
        phrase = self.span(mod_item, item, modifier)
        for cam in cameras:
            control = vocabulary.FAMILY_CONTROLS[family][cam]
            if control is None:
                if len(cameras) == 1:
                    self.notes.append(_no_control_note(family, cam, phrase, self.labels))
                continue
            if family == "low_light" and cam == "ir":
                self.notes.append(f"{phrase!r}: a dark {self.labels['ir']} image was read as low contrast")
            self.emit(item, control, strength, phrase, weak=how == "default")

    def strength(self, index: int, base: float) -> tuple[float, _Item | None]:
        number = self.number_near(index)
        if number is not None:
            return number
        modifier = self.before(index, ("int",))
        if modifier is None:
            modifier = self.after(index, _is_post_modifier, 2)  # 'raining heavily'
        return self.scaled(base, modifier, 0.05), self.items[modifier] if modifier is not None else None

    def camera_for(self, index: int, family: str) -> tuple[str, int | None, str]:
        """(camera, index of the modality word or None, how: explicit / inherited / default)."""
        explicit = self.nearest_modality(index)
        if explicit is not None:
            return str(self.items[explicit].value), explicit, "explicit"
        inherited = self.inherited_modality(index, family)
        if inherited is not None:
            return inherited, None, "inherited"
        default = vocabulary.FAMILY_DEFAULT[family]
        named = self.sentence_modalities.get(self.items[index].sentence, set())
        if default == "both" and len(named) == 1:
            return next(iter(named)), None, "inherited"
        return default, None, "default"

    def nearest_modality(self, index: int) -> int | None:
        """The segment's modality word nearest to ``index``; on a tie in words, the one before.

        Items are ordered and do not overlap, so the nearest one before is the last modality
        word before ``index`` and the nearest one after is the first after it: two bisections.
        """
        item = self.items[index]
        mods = self.segment_modalities.get(item.seg, [])
        at = bisect.bisect_left(mods, index)  # ``index`` is a degradation word, never in ``mods``
        previous = mods[at - 1] if at > 0 else None
        following = mods[at] if at < len(mods) else None
        if previous is None or following is None:
            return previous if following is None else following
        before = item.start - self.items[previous].end
        after = self.items[following].start - item.end + 0.5
        return previous if before <= after else following

    def inherited_modality(self, index: int, family: str) -> str | None:
        """From an earlier segment of the clause, else (when it suits the word) a later one."""
        mods = self.clause_modalities.get(self.items[index].clause, [])
        at = bisect.bisect_left(mods, index)
        if at > 0:
            return str(self.items[mods[at - 1]].value)
        following = mods[at] if at < len(mods) else None
        if following is not None and family != "low_light":
            camera = str(self.items[following].value)
            cameras = ("vis", "ir") if camera == "both" else (camera,)
            if all(vocabulary.FAMILY_CONTROLS[family][c] is not None for c in cameras):
                return camera
        return None

    def read_fine(self, index: int, item: _Item) -> None:
        """'the infrared is fine', 'nothing wrong with the thermal image'."""
        one_word = item.end - item.start == 1
        mods = self.segment_modalities.get(item.seg, [])
        # The segment's first modality word; a one-word 'fine' only looks back ("fine infrared").
        first = mods[0] if mods and (mods[0] < index or not one_word) else None
        if first is None or item.seg in self.segments_with_deg or self.before(index, ("neg",)) is not None:
            return
        camera = str(self.items[first].value)
        phrase = self.span(self.items[first], item)
        for name in DEGRADATIONS:
            if camera == "both" or name.startswith(camera + "_"):
                self.emit(item, name, 0.0, phrase, negated=True)


class _PreferenceReader(_Reader):
    """'keep people bright', 'preserve texture', 'more infrared', 'natural colours'."""

    def read(self) -> None:
        self.target_verbs: dict[int, int] = {}
        # segment -> how many of its items are degradation or target words (kept up to date
        # when a degradation word is taken as a verb), so each camera-weight verb costs O(1).
        self.blocking: dict[int, int] = {}
        for item in self.items:
            if item.cat in vocabulary.BLOCKS_CAMERA_WEIGHT:
                self.blocking[item.seg] = self.blocking.get(item.seg, 0) + 1
        for index, item in enumerate(self.items):
            if item.cat == "pref":
                name, value = item.value  # type: ignore[misc]
                modifier = self.before(index, ("int",))
                magnitude = self.scaled(abs(value), modifier, 0.1)
                member = self.items[modifier] if modifier is not None else None
                self.emit(item, name, math.copysign(magnitude, value), self.span(member, item))
            elif item.cat in ("hot", "detail"):
                self.read_target(index, item)
            elif item.cat in ("up", "down") and item.value not in vocabulary.NOT_MODALITY_VERBS:
                self.read_camera_weight(index, item)

    def read_target(self, index: int, item: _Item) -> None:
        name = "thermal_emphasis" if item.cat == "hot" else "detail_emphasis"
        verb = self.before(index, _is_verb, window=5)
        if verb is None:
            verb = self.shared_verb(index)
        if verb is not None:
            self.target_verbs[index] = verb
        shown = self.after(index, _shows, 4)
        if verb is None and shown is None:
            return
        anchor = verb if verb is not None else shown
        sign = -1.0 if self.items[anchor].cat == "down" else 1.0  # type: ignore[index]
        negator = self.before(verb, ("neg",)) if verb is not None else None
        modifier = self.before(anchor, ("int",))  # type: ignore[arg-type]
        if modifier is None and shown is not None:  # 'keep people very bright'
            modifier = self.before(shown, lambda o: o.cat == "int" and o.start > item.start, 2)
        parts = [self.items[j] for j in (negator, verb, index, shown, modifier) if j is not None]
        for j in (verb, shown):
            if j is not None and self.items[j].cat in ("mod", "deg"):
                used = self.items[j]
                if used.cat in vocabulary.BLOCKS_CAMERA_WEIGHT:
                    self.blocking[used.seg] -= 1
                used.cat = "used"  # 'brighten the people': a verb here, not a degradation
        if negator is not None:
            self.emit(item, name, 0.0, self.span(*parts), negated=True)
            return
        value = sign * self.scaled(DEFAULT_PREFERENCE, modifier, 0.1)
        self.emit(item, name, value, self.span(*parts))

    def shared_verb(self, index: int) -> int | None:
        """'highlight the targets and the texture': a verb shared by coordinated targets."""
        j = index - 1
        while j >= 0 and self.items[j].cat == "word" and self.items[j].text in vocabulary.ARTICLES:
            j -= 1
        if j >= 0 and j in self.target_verbs and self.items[j].clause == self.items[index].clause:
            return self.target_verbs[j]
        return None

    def read_camera_weight(self, index: int, item: _Item) -> None:
        """'more infrared', 'slightly less thermal', 'favour the visible image'."""
        if self.blocking.get(item.seg, 0):
            return
        target = self.after(index, lambda o: o.cat == "mod", 4)
        if target is None or self.items[target].value == "both":
            return
        sign = (1.0 if item.cat == "up" else -1.0) * (1.0 if self.items[target].value == "ir" else -1.0)
        negator = self.before(index, ("neg",))
        modifier = self.before(index, ("int",))
        parts = [self.items[j] for j in (negator, modifier, index, target) if j is not None]
        if negator is not None:
            self.emit(item, "thermal_emphasis", 0.0, self.span(*parts), negated=True)
            return
        value = sign * self.scaled(DEFAULT_PREFERENCE, modifier, 0.1)
        self.emit(item, "thermal_emphasis", value, self.span(*parts))


def _is_post_modifier(item: _Item) -> bool:
    return item.cat == "int" and (item.text.endswith("ly") or item.text.startswith("a "))


def _is_verb(item: _Item) -> bool:
    """'highlight', 'less'; also 'brighten' and 'visible' when they stand next to a target."""
    return item.cat in ("up", "down") or item.text in vocabulary.VERB_LIKE


def _shows(item: _Item) -> bool:
    """'(people) bright', '(pedestrians) stand out', '(targets) visible'."""
    return item.cat in ("after", "up") or item.text in vocabulary.VERB_LIKE


def _resolve(events: list[tuple[int, _Event]]) -> tuple[dict[str, float], dict[str, str], dict[str, str]]:
    """Apply the events in prompt order: a negation rules a control out until a later explicit mention."""
    values: dict[str, float] = {}
    phrases: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for _, event in sorted(events, key=lambda e: e[0]):
        name = event.control
        if event.negated:
            values.pop(name, None)
            phrases.pop(name, None)
            excluded[name] = event.phrase
        elif not (event.weak and name in excluded):
            excluded.pop(name, None)
            if name not in values or abs(event.value) > abs(values[name]):
                values[name], phrases[name] = event.value, event.phrase
    return values, phrases, excluded


def _no_control_note(family: str, camera: str, phrase: str, labels: dict[str, str] = _LABELS) -> str:
    other = labels["vis"] if camera == "ir" else labels["ir"]
    here = labels[camera]
    what = family.replace("_", " ")
    return f"{phrase!r}: {what} is restored on the {other} image only, not the {here}; ignored"


def _language_note(prompt: str) -> str:
    letters = [c for c in prompt if c.isalpha()]
    if letters and sum(not c.isascii() for c in letters) > 0.3 * len(letters):
        return (
            "the prompt does not look like English; only English words are understood, "
            "so plain fusion is used"
        )
    shown = prompt if len(prompt) <= 60 else prompt[:57] + "..."
    return f"no known request found in {shown!r}; plain fusion is used"


_PARTIAL_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]*)?$")


def _cut(prompt: str) -> tuple[str, str | None]:
    """The first :data:`MAX_PROMPT_CHARS` characters of ``prompt``, never ending in half a word.

    Returns the text to read and, when it was cut, a note saying where.
    """
    if len(prompt) <= MAX_PROMPT_CHARS:
        return prompt, None
    kept = prompt[:MAX_PROMPT_CHARS]
    partial = _PARTIAL_WORD.search(kept)
    following = prompt[MAX_PROMPT_CHARS]
    if partial is not None and partial.start() > 0 and (following.isalnum() or following in "'’"):
        kept = kept[: partial.start()]  # the next character continues the word: drop its start
    words = kept[-50:].split()
    if len(words) > 1 and len(kept) > 50 and not kept[-51].isspace():
        words = words[1:]  # the first of them is a word's end
    tail = " ".join(words[-6:])
    note = (
        f"the prompt is {len(prompt):,} characters long; only its first {len(kept):,} were read "
        f"(up to ...{tail!r}) and the rest was ignored (at most {MAX_PROMPT_CHARS:,} are read)"
    )
    return kept, note


def interpret(prompt: str, *, kind: str | PairKind = DEFAULT_KIND) -> Interpretation:
    """Turn a prompt into :class:`Controls`, saying which words set each control.

    Parameters
    ----------
    prompt : str
        Free English text such as ``"dark, noisy IR"`` or ``"the visible image is
        hazy; keep people bright"``. Empty means plain fusion. Only the first
        :data:`MAX_PROMPT_CHARS` characters are read (cut at a word boundary); a
        note says so when a longer text is cut.
    kind : str or PairKind, optional
        The pair kind (:mod:`napari_textif.pairkinds`). Other kinds add their modality
        names and what each image shows (``"the CT is noisy"``, ``"keep the bone
        bright"``, ``"more soft-tissue detail"``, ``"highlight the PET uptake"``,
        ``"T1"``/``"T2"`` for the MRI); Controls that do not apply to the kind (rain, haze
        for MRI-CT) are left at zero with a note.

    Returns
    -------
    Interpretation
        The Controls, the phrase behind every non-zero control, the controls the
        prompt ruled out, and notes about words that were not understood.

    Examples
    --------
    >>> interpret("dark, noisy IR").controls.summary()
    'vis_low_light=0.60, ir_noise=0.60'
    >>> interpret("no haze; the infrared is fine; strongly highlight pedestrians").controls.summary()
    'thermal_emphasis=+0.80'
    >>> interpret("ein dunkles Bild").notes
    ("no known request found in 'ein dunkles Bild'; plain fusion is used",)
    >>> interpret("the CT is noisy; keep the bone bright", kind="mri-ct").controls.summary()
    'ir_noise=0.60, thermal_emphasis=+0.60'
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    pair = get_kind(kind)
    labels = _kind_labels(pair)
    prompt, cut_note = _cut(prompt)
    words, spans = _tokenize(prompt)
    items = _structure(_merge_coordinated(_match(words, spans, _kind_lexicon(pair.name))))
    preferences = _PreferenceReader(prompt, items, labels)
    preferences.read()
    degradations = _DegradationReader(prompt, items, labels)
    degradations.read()
    values, phrases, excluded = _resolve(preferences.events + degradations.events)
    notes = list(dict.fromkeys(([cut_note] if cut_note else []) + preferences.notes + degradations.notes))
    dropped = _drop_inapplicable(pair, values, phrases, excluded)
    notes += [n for n in dropped if n not in notes]
    understood = values or excluded or dropped or any(i.cat == "task" for i in items)
    if not understood and prompt.strip():
        notes.append(_language_note(prompt))
    return Interpretation(Controls(**values), phrases, tuple(notes), excluded)


def _drop_inapplicable(
    pair: PairKind, values: dict[str, float], phrases: dict[str, str], excluded: dict[str, str]
) -> list[str]:
    """Remove the controls that do not apply to ``pair`` (in place); one note per phrase."""
    notes: dict[str, list[str]] = {}
    for name in pair.inapplicable(list(values)):
        values.pop(name)
        notes.setdefault(phrases.pop(name), []).append(name)
    for name in pair.inapplicable(list(excluded)):
        excluded.pop(name)
    return [f"{phrase!r}: {', '.join(names)} does not apply to {pair.title} pairs; ignored"
            for phrase, names in notes.items()]
