"""Engine options and devices are declared with their types and ranges and checked by fuse()
(issue 17, item 9); a masked array's mask is never silently ignored."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

import napari_textif
from napari_textif.engines import engine_names, get_engine
from napari_textif.engines.base import Engine, EngineOutput, FusionRequest, OptionSpec, declare_options
from napari_textif.samples import synthetic_pair

ENGINES = engine_names()
SPECS = [(name, spec) for name in ENGINES for spec in get_engine(name).options.values()]
#: Values of many kinds: each option must refuse those of a type it does not take.
PROBES: list[Any] = ["abc", 5, 1.5, True, None, [1], {"a": 1}, b"x", Path("x.safetensors")]


@pytest.fixture(scope="module")
def pair() -> tuple[np.ndarray, np.ndarray]:
    return synthetic_pair(shape=(24, 32))


def _wrong_types(spec: OptionSpec) -> list[Any]:
    wrong = []
    for value in PROBES:
        try:
            spec.check(value)
        except TypeError:
            wrong.append(value)
        except ValueError:
            pass
    return wrong


def _out_of_range(spec: OptionSpec) -> list[Any]:
    values: list[Any] = []
    if spec.choices:
        values.append("not-a-choice" if isinstance(spec.choices[0], str) else object())
    if spec.minimum is not None:
        values += [int(spec.minimum) - 1 if int in spec.types else spec.minimum - 0.5, -(10**6)]
    if spec.maximum is not None:
        values.append(int(spec.maximum) + 1)
    if float in spec.types:
        values += [float("nan"), float("inf")]
    return values


def _valid(spec: OptionSpec) -> list[Any]:
    if spec.choices:
        return list(spec.choices)
    if bool in spec.types:
        return [True, False, np.bool_(False)]
    if os.PathLike in spec.types:
        return ["weights.safetensors", Path("weights.safetensors")]
    if int in spec.types or float in spec.types:
        low = spec.minimum if spec.minimum is not None else 0
        values: list[Any] = [int(low) if int in spec.types else low, np.int64(int(low) + 8)]
        return values + ([float(low) + 0.5] if float in spec.types else [])
    return ["x"]


# --- every engine declares its options ------------------------------------------------------------


@pytest.mark.parametrize("name", ENGINES)
def test_every_engine_declares_typed_options(name: str) -> None:
    engine = get_engine(name)
    assert isinstance(engine.options, Mapping)
    assert engine.option_names == tuple(engine.options)  # derived, for the widget and the CLI
    assert type(engine).option_names == engine.option_names
    for key, spec in engine.options.items():
        assert isinstance(spec, OptionSpec) and spec.name == key
        assert spec.types and object not in spec.types, f"{name}.{key} takes any value"
        assert spec.description, f"{name}.{key} has no description"
    with pytest.raises(TypeError):
        engine.options["new"] = OptionSpec("new")  # type: ignore[index]


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=[f"{n}-{s.name}" for n, s in SPECS])
def test_fuse_refuses_a_wrong_type_naming_the_option(pair, name: str, spec: OptionSpec) -> None:
    wrong = _wrong_types(spec)
    assert wrong, f"{name}.{spec.name} accepts every probe"
    for value in wrong:
        with pytest.raises(TypeError, match=rf"options\['{spec.name}'\] must be .*, got"):
            napari_textif.fuse(*pair, engine=name, device="cpu", options={spec.name: value})


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=[f"{n}-{s.name}" for n, s in SPECS])
def test_fuse_refuses_a_value_out_of_range_naming_the_option(pair, name: str, spec: OptionSpec) -> None:
    for value in _out_of_range(spec):
        with pytest.raises(ValueError, match=rf"options\['{spec.name}'\] must be {spec.expected()[:12]}"):
            napari_textif.fuse(*pair, engine=name, device="cpu", options={spec.name: value})


@pytest.mark.parametrize(("name", "spec"), SPECS, ids=[f"{n}-{s.name}" for n, s in SPECS])
def test_valid_values_pass_the_check(name: str, spec: OptionSpec) -> None:
    for value in _valid(spec):
        get_engine(name).check_options({spec.name: value})
    if spec.nullable:
        get_engine(name).check_options({spec.name: None})


@pytest.mark.parametrize("name", ENGINES)
def test_unknown_options_are_listed_with_the_known_ones(pair, name: str) -> None:
    known = ", ".join(get_engine(name).option_names) or "none"
    with pytest.raises(ValueError, match=r"\['nope'\] are not options of engine") as info:
        napari_textif.fuse(*pair, engine=name, options={"nope": 1})
    assert f"(it takes: {known})" in str(info.value)


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("options", ["checkpoint", ["checkpoint"], [("checkpoint", "x")], 5])
def test_options_must_be_a_mapping(pair, name: str, options: object) -> None:
    with pytest.raises(TypeError, match=r"options must be a mapping .*, got"):
        napari_textif.fuse(*pair, engine=name, options=options)  # type: ignore[arg-type]


# --- devices ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ENGINES)
def test_every_engine_accepts_auto_and_cpu(name: str) -> None:
    for device in ("auto", "cpu"):
        get_engine(name).check_device(device)


@pytest.mark.parametrize("name", ENGINES)
@pytest.mark.parametrize("device", ["gpu", "CUDA", "cuda:x", "", "cpu ", "tpu"])
def test_every_engine_refuses_an_unknown_device(pair, name: str, device: str) -> None:
    expected = rf"device must be 'auto'(,| or) 'cpu'.*got {re.escape(repr(device))}"
    with pytest.raises(ValueError, match=expected):
        napari_textif.fuse(*pair, engine=name, device=device)


@pytest.mark.parametrize("device", ["cuda", "cuda:0", "mps"])
def test_classic_refuses_a_gpu_instead_of_ignoring_it(pair, device: str) -> None:
    with pytest.raises(ValueError, match=r"'classic' runs on the CPU only: device must be 'auto' or 'cpu'"):
        napari_textif.fuse(*pair, engine="classic", device=device)
    assert napari_textif.fuse(*pair, engine="classic", device="cpu").device == "cpu"


@pytest.mark.parametrize("name", [n for n in ENGINES if "cuda" in get_engine(n).devices])
def test_torch_engines_take_gpu_device_names(name: str) -> None:
    for device in ("cuda", "cuda:1", "mps"):
        get_engine(name).check_device(device)  # whether one exists is checked when it runs


# --- the reproductions of the issue -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"tile_size": "abc"}, TypeError, r"options\['tile_size'\] must be an int >= 192.*got str 'abc'"),
        ({"tile_size": -5}, ValueError, r"options\['tile_size'\] must be an int >= 192.*got -5"),
        ({"tile_size": 100.0}, TypeError, r"options\['tile_size'\] must be an int"),
        ({"memory_budget_mb": -1}, ValueError, r"options\['memory_budget_mb'\] must be a number >= 1"),
        ({"memory_budget_mb": "512"}, TypeError, r"options\['memory_budget_mb'\] must be a number"),
        ({"checkpoint": 5}, TypeError, r"options\['checkpoint'\] must be a path \(str or os.PathLike\)"),
        ({"classic_restore": "no"}, TypeError, r"options\['classic_restore'\] must be a bool"),
        ({"classic_restore": 0}, TypeError, r"options\['classic_restore'\] must be a bool"),
        ({"threads": True}, TypeError, r"options\['threads'\] must be an int >= 0"),
        ("checkpoint", TypeError, r"options must be a mapping .* got str"),
    ],
)
def test_lite_option_reproductions(pair, options: object, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        napari_textif.fuse(*pair, engine="lite", options=options)  # type: ignore[arg-type]


def test_textif_precision_is_one_of_its_choices(pair) -> None:
    with pytest.raises(ValueError, match=r"options\['precision'\] must be one of 'auto', 'fp32'"):
        napari_textif.fuse(*pair, engine="textif", options={"precision": "fp64"})


# --- OptionSpec and the declaration ---------------------------------------------------------------


def test_option_spec_types() -> None:
    count = OptionSpec("n", (int,), "a count", minimum=0, maximum=10)
    count.check(np.int32(3))
    for bad in (True, np.bool_(True), 2.0, "2"):
        with pytest.raises(TypeError, match=r"options\['n'\] must be an int >= 0 and <= 10"):
            count.check(bad)
    with pytest.raises(ValueError, match="got 11"):
        count.check(11)
    size = OptionSpec("mb", (float,), "megabytes", minimum=1)
    size.check(3)
    size.check(np.float32(2.5))
    with pytest.raises(ValueError, match="got nan"):
        size.check(float("nan"))
    flag = OptionSpec("on", (bool,), "a switch")
    flag.check(np.bool_(True))
    with pytest.raises(TypeError, match=r"must be a bool \(True or False\), got str 'no'"):
        flag.check("no")
    mode = OptionSpec("mode", (str,), "a mode", choices=("a", "b"))
    with pytest.raises(ValueError, match="must be one of 'a', 'b', got 'c'"):
        mode.check("c")
    with pytest.raises(TypeError, match="must be one of 'a', 'b', got int 1"):
        mode.check(1)
    with pytest.raises(TypeError, match=r"\(or None for the default\)"):
        OptionSpec("p", (str, os.PathLike), "a path", nullable=True).check(1)
    long = "x" * 500
    with pytest.raises(ValueError) as info:
        mode.check(long)
    assert len(str(info.value)) < 150  # a huge value is shortened in the message


def test_declare_options_refuses_duplicates() -> None:
    with pytest.raises(ValueError, match="unique"):
        declare_options(OptionSpec("a", (int,)), OptionSpec("a", (str,)))


class _Plain(Engine):
    name = "plain"
    description = "an engine that still sets option_names only"
    option_names = ("anything",)

    def run(self, request: FusionRequest) -> EngineOutput:  # pragma: no cover - never run
        raise NotImplementedError


def test_an_engine_with_only_option_names_still_works() -> None:
    engine = _Plain()
    assert tuple(engine.options) == ("anything",)
    assert engine.check_options({"anything": object()}).keys() == {"anything"}
    with pytest.raises(ValueError, match="it takes: anything"):
        engine.check_options({"other": 1})


def test_a_declaration_under_the_wrong_key_is_refused() -> None:
    with pytest.raises(TypeError, match="must map each name to its OptionSpec"):

        class _Wrong(Engine):
            name = "wrong"
            description = "wrong"
            options: ClassVar[Mapping[str, OptionSpec]] = {"a": OptionSpec("b", (int,))}

            def run(self, request: FusionRequest) -> EngineOutput:  # pragma: no cover
                raise NotImplementedError


# --- masked arrays ------------------------------------------------------------------------------------


@pytest.mark.parametrize("which", ["infrared", "visible"])
def test_a_masked_array_with_masked_values_is_refused(pair, which: str) -> None:
    ir, vis = pair
    images = {"infrared": ir, "visible": vis}
    images[which] = np.ma.masked_array(images[which], mask=images[which] > 0.5)
    with pytest.raises(ValueError, match=rf"{which} is a masked array with \d+ masked values.*filled"):
        napari_textif.fuse(images["infrared"], images["visible"], engine="classic")
    with pytest.raises(ValueError, match=rf"{which} is a masked array"):
        napari_textif.detect(images["infrared"], images["visible"])


def test_a_masked_array_that_masks_nothing_fuses_like_its_data(pair) -> None:
    ir, vis = pair
    plain = napari_textif.fuse(ir, vis, engine="classic")
    masked = napari_textif.fuse(np.ma.masked_array(ir), np.ma.masked_array(vis, mask=False), engine="classic")
    np.testing.assert_array_equal(plain.image, masked.image)
    assert not isinstance(masked.image, np.ma.MaskedArray)
