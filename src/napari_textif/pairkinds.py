"""Pair kinds: which two images are fused, what each one brings and where the colour comes from.

Every engine fuses an *intensity* image (the infrared slot: bright structures are kept
bright) with a *detail* image (the visible slot: texture and edges; its colour is kept
unless the kind says otherwise). A :class:`PairKind` names its two roles in the order a
user gives them, says which slot each fills, which image gives the colour, which weights
serve it and which Controls make sense for it.

Kinds: ``"ivif"`` (infrared and visible, the default), ``"mri-ct"``, ``"mri-pet"``,
``"mri-spect"`` (as in the medical fusion literature, MRI fills the detail slot and the
other modality the intensity slot; PET and SPECT are pseudo-colour, so the fusion is made in
luminance and the functional image's colour is kept) and ``"channels"`` (any two
registered channels).

Examples
--------
>>> kind = get_kind("mri-pet")
>>> [role.label for role in kind.roles]
['MRI', 'PET']
>>> kind.colour_role, kind.slot_of("pet")
('pet', 'infrared')
>>> get_kind("ivif").weights
'lite_v2'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from napari_textif.controls import CONTROL_NAMES, PREFERENCES

#: The kind used when none is given.
DEFAULT_KIND = "ivif"
#: The two engine slots, in the order of :class:`~napari_textif.engines.FusionRequest`.
SLOTS = ("infrared", "visible")

_MEDICAL_CONTROLS = frozenset(
    {"vis_low_light", "vis_noise", "vis_blur", "ir_low_contrast", "ir_noise", *PREFERENCES}
)


@dataclasses.dataclass(frozen=True)
class Role:
    """One of the two images of a pair kind.

    Attributes
    ----------
    name : str
        Short identifier (``"mri"``, ``"ct"``...), also the keyword of
        :func:`napari_textif.fuse` and the training folder name.
    label : str
        What the widget and the CLI call it (``"MRI"``).
    slot : {"infrared", "visible"}
        The engine slot it fills: ``"infrared"`` is the intensity source, ``"visible"``
        the detail source.
    what : str
        What it brings to the fusion, in words.
    layer_words : tuple of str
        Words of a napari layer name that mark an image of this role (matched as whole
        words, case-insensitively).
    folders : tuple of str
        Folder names of training data holding this role's images.
    """

    name: str
    label: str
    slot: str
    what: str
    layer_words: tuple[str, ...] = ()
    folders: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class PairKind:
    """A kind of registered image pair.

    Attributes
    ----------
    name : str
        ``"ivif"``, ``"mri-ct"``...
    title : str
        A readable name (``"MRI + PET"``).
    roles : tuple of Role
        The two images in the order a user gives them.
    colour_role : str or None
        The role whose colour the result keeps (its chroma around the fused luminance);
        None: the detail image's colour, as for infrared/visible.
    weights : str
        The ``lite`` weights that serve this kind (a file stem under the engine's weights).
    controls : frozenset of str
        The Controls that make sense for this kind; others are set to zero with a note.
    description : str
    engines : tuple of str
        The engines made or trained for this kind (others run with a note that their result
        is zero-shot).
    """

    name: str
    title: str
    roles: tuple[Role, Role]
    colour_role: str | None
    weights: str
    controls: frozenset[str]
    description: str = ""
    engines: tuple[str, ...] = ("lite", "classic")

    def role(self, name: str) -> Role:
        """The role called ``name``; ValueError naming the kind's roles otherwise."""
        for role in self.roles:
            if role.name == name:
                return role
        raise ValueError(f"{self.name} pairs have roles {self.role_names}, got {name!r}")

    @property
    def role_names(self) -> tuple[str, str]:
        """The roles' names, in the user's order."""
        return (self.roles[0].name, self.roles[1].name)

    def slot_of(self, role: str) -> str:
        """The engine slot (``"infrared"`` or ``"visible"``) that ``role`` fills."""
        return self.role(role).slot

    def in_slots(self, first: object, second: object) -> tuple[object, object]:
        """``(intensity image, detail image)`` from the two images in the kind's role order."""
        return (first, second) if self.roles[0].slot == "infrared" else (second, first)

    @property
    def colour_slot(self) -> str:
        """The slot whose image gives the result's colour."""
        return "visible" if self.colour_role is None else self.slot_of(self.colour_role)

    @property
    def is_default(self) -> bool:
        """True for the infrared/visible kind, whose behaviour is the package's original one."""
        return self.name == DEFAULT_KIND

    def inapplicable(self, names: Iterable[str]) -> list[str]:
        """Those of ``names`` (Controls fields) that do not apply to this kind."""
        return [n for n in names if n not in self.controls]


def _ivif() -> PairKind:
    return PairKind(
        "ivif", "Infrared + visible",
        (Role("infrared", "Infrared", "infrared", "hot targets, scene intensity",
              ("ir", "infrared", "thermal", "lwir", "mwir", "swir", "tir", "flir", "heat"),
              ("ir", "infrared")),
         Role("visible", "Visible", "visible", "texture, detail and colour",
              ("vis", "vi", "visible", "rgb", "color", "colour", "optical", "daylight", "eo"),
              ("vi", "vis", "visible"))),
        None, "lite_v2", frozenset(CONTROL_NAMES),
        "a thermal camera and a visible (colour or grey) camera of the same scene",
        ("lite", "classic", "textif"),
    )


def _mri() -> Role:
    return Role("mri", "MRI", "visible", "soft-tissue structure and detail",
                ("mri", "mr", "t1", "t2", "t1w", "t2w", "flair", "pd"), ("mri",))


def _medical(other: str, label: str, what: str, words: tuple[str, ...], colour: bool) -> PairKind:
    role = Role(other, label, "infrared", what, words, (other,))
    shown = f"MRI + {label}"
    description = f"an MRI slice and the registered {label} slice" + (
        f"; the {label} is pseudo-colour, fused in luminance with its colour kept" if colour else "")
    return PairKind(f"mri-{other}", shown, (_mri(), role), other if colour else None,
                    "lite_medical_v1", _MEDICAL_CONTROLS, description)


def _channels() -> PairKind:
    return PairKind(
        "channels", "Two registered channels",
        (Role("a", "Channel A", "infrared", "intensity: its bright structures are kept bright"),
         Role("b", "Channel B", "visible", "detail and edges; its colour is kept if it has one")),
        None, "lite_v2", _MEDICAL_CONTROLS,
        "any two registered channels (fluorescence, microscopy, remote sensing...)",
    )


KINDS: dict[str, PairKind] = {
    kind.name: kind
    for kind in (
        _ivif(),
        _medical("ct", "CT", "dense structures such as bone", ("ct", "cta", "cect"), False),
        _medical("pet", "PET", "function (tracer uptake), in pseudo-colour", ("pet", "fdg"), True),
        _medical("spect", "SPECT", "function (perfusion), in pseudo-colour", ("spect", "spet"), True),
        _channels(),
    )
}


def get_kind(name: str | PairKind) -> PairKind:
    """The :class:`PairKind` called ``name`` (a PairKind is returned as it is).

    Raises
    ------
    ValueError
        For an unknown name; the message lists the known ones.
    """
    if isinstance(name, PairKind):
        return name
    if not isinstance(name, str) or name.lower() not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {name!r}")
    return KINDS[name.lower()]


def slot_folders(slot: str) -> tuple[str, ...]:
    """Training folder names, over every kind, of the images that fill ``slot``."""
    names = [f for kind in KINDS.values() for role in kind.roles if role.slot == slot for f in role.folders]
    return tuple(dict.fromkeys(names))
