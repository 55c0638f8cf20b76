"""Prompt -> Controls: an offline, deterministic, explainable interpreter.

This is the minimal form that the foundation needs; the full interpreter
(synonyms, modality attribution, intensity words, negation, preferences)
replaces the phrase table below.
"""

from __future__ import annotations

import dataclasses
import re

from napari_textif.controls import Controls

DEFAULT_STRENGTH = 0.6

_PHRASES: dict[str, tuple[str, ...]] = {
    "vis_low_light": ("dark", "low light", "low-light", "night", "dim", "underexposed"),
    "vis_overexposure": ("overexposed", "overexposure", "glare", "too bright", "washed out"),
    "vis_haze": ("haze", "hazy", "fog", "foggy", "mist", "smoke"),
    "vis_rain": ("rain", "rainy", "raindrop"),
    "vis_blur": ("blur", "blurry", "out of focus"),
    "ir_low_contrast": ("low contrast", "flat", "faint"),
    "ir_stripe_noise": ("stripe", "striping", "banding", "fixed-pattern"),
}


@dataclasses.dataclass(frozen=True)
class Interpretation:
    """What a prompt was understood to ask for.

    Attributes
    ----------
    controls : Controls
    phrases : dict of str to str
        For every non-zero control, the words of the prompt that set it.
    notes : tuple of str
        Anything not understood or worth telling the user.
    """

    controls: Controls
    phrases: dict[str, str] = dataclasses.field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def explain(self) -> str:
        """One line per non-zero control with the phrase that set it."""
        lines = [
            f"{name} = {value:+.2f}  <- {self.phrases.get(name, '?')!r}"
            for name, value in self.controls.active().items()
        ]
        return "\n".join(lines + list(self.notes)) or "neutral (plain fusion)"


def interpret(prompt: str) -> Interpretation:
    """Turn a prompt into :class:`Controls`, saying which words set each control.

    Parameters
    ----------
    prompt : str
        Free text; empty means plain fusion.

    Examples
    --------
    >>> interpret("the visible image is dark").controls.vis_low_light > 0
    True
    """
    if not isinstance(prompt, str):
        raise TypeError(f"prompt must be a str, got {type(prompt).__name__}")
    text = prompt.lower()
    values: dict[str, float] = {}
    phrases: dict[str, str] = {}
    for name, words in _PHRASES.items():
        for word in words:
            if re.search(rf"\b{re.escape(word)}", text):
                values[name], phrases[name] = DEFAULT_STRENGTH, word
                break
    if re.search(r"\bnois", text):
        for name in ("vis_noise", "ir_noise"):
            values[name], phrases[name] = DEFAULT_STRENGTH, "noise"
    notes = () if values or not text.strip() else (f"no known request found in {prompt!r}",)
    return Interpretation(Controls(**values), phrases, notes)
