"""Nothing lost, nothing silently wrong (issue 17, items 1, 5 and 6).

A non-finite value never leaves :func:`napari_textif.fuse` or :func:`napari_textif.detect`:
constant, black, white and tiny images give a finite, sensible image for every
restoration step and every engine; values beyond the float32 range scale in
float64; thin images are measured as far as they can be, and the notes say what
was skipped. Hypothesis runs of ``fuse`` (classic and lite) and ``detect`` over
shapes 1..64, every supported dtype and wild value ranges check that every output
is finite and in ``[0, 1]``, and that every refusal is a ValueError or TypeError
with a message.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from napari_textif import detect, fuse, imaging, restoration
from napari_textif.controls import DEGRADATIONS, Controls
from napari_textif.detection import MIN_MEASURE_SIDE, measure
from napari_textif.engines import get_engine


def _all_at(strength: float) -> Controls:
    return Controls(**{name: strength for name in DEGRADATIONS})

EVERY_PROMPT = (
    "the visible image is very dark, noisy, hazy, blurry, rainy and overexposed; "
    "the infrared image is noisy, striped and low in contrast"
)


def _available(name: str) -> bool:
    return get_engine(name).availability({}).available


ENGINES = [
    "classic",
    pytest.param("lite", marks=pytest.mark.skipif(not _available("lite"), reason="lite unavailable")),
]


def _check_image01(image: np.ndarray, shape: tuple[int, int] | None = None) -> None:
    assert image.dtype == np.float32
    assert np.isfinite(image).all(), f"{np.count_nonzero(~np.isfinite(image))} non-finite values"
    assert image.min() >= 0.0 and image.max() <= 1.0
    if shape is not None:  # three equal visible channels come back as one
        assert image.shape[:2] == shape and image.ndim in (2, 3)


def _no_nan_in(notes: list[str]) -> bool:
    return not any(re.search(r"\b(nan|inf)\b", note) for note in notes)


# --- restoration steps on constant, black, white and tiny images -------------------------------

STEPS: dict[str, Callable[[np.ndarray, float], np.ndarray]] = {
    "brighten": restoration.brighten,
    "compress_highlights": restoration.compress_highlights,
    "denoise": restoration.denoise,
    "denoise_impulse": lambda image, s: restoration.denoise(image, s, impulse=True),
    "dehaze": restoration.dehaze,
    "derain": restoration.derain,
    "sharpen": restoration.sharpen,
    "stretch_contrast": restoration.stretch_contrast,
    "destripe": restoration.destripe,
    "restore_visible": lambda image, s: restoration.restore_visible(image, _all_at(s)),
    "restore_infrared": lambda image, s: restoration.restore_infrared(image, _all_at(s)),
}
SHAPES = [(1, 1), (2, 2), (1, 9), (9, 1), (3, 40), (24, 24)]
LEVELS = {"black": 0.0, "white": 1.0, "grey": 0.4}


def _images() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(17)
    images = []
    for shape in SHAPES:
        for label, value in LEVELS.items():
            images.append((f"{label}{shape}", np.full(shape, value, np.float32)))
        images.append((f"random{shape}", rng.random(shape).astype(np.float32)))
    return images


@pytest.mark.filterwarnings("error::RuntimeWarning", "error::UserWarning")
@pytest.mark.parametrize("step", list(STEPS))
def test_every_step_is_finite_on_constant_and_tiny_images(step: str) -> None:
    for label, image in _images():
        before = image.copy()
        for strength in (0.5, 1.0):
            out = STEPS[step](image, strength)
            assert np.isfinite(out).all(), (step, label, strength)
            assert out.shape == image.shape and out.min() >= 0.0 and out.max() <= 1.0, (step, label)
        np.testing.assert_array_equal(image, before)


def test_constant_images_keep_their_level_where_nothing_asks_to_change_it() -> None:
    for value in (0.0, 0.4, 1.0):
        flat = np.full((24, 24), value, np.float32)
        for step in ("denoise", "derain", "sharpen", "destripe"):
            np.testing.assert_allclose(STEPS[step](flat, 1.0), value, atol=1e-5, err_msg=step)


def test_noise_sigma_of_a_constant_image_is_zero_not_nan() -> None:
    # skimage.restoration.estimate_sigma returns NaN here (it drops the all-zero details).
    for value in (0.0, 0.5, 1.0):  # 0.5 and 1 leave round-off details of about 1e-33
        assert 0.0 <= restoration.noise_sigma(np.full((32, 32), value, np.float32)) < 1e-12
    assert restoration.noise_sigma(np.zeros((1, 1), np.float32)) == 0.0
    assert restoration.noise_sigma(np.random.default_rng(0).random((2, 3))) >= 0.0


def test_noise_sigma_matches_scikit_image_where_that_is_defined() -> None:
    from skimage.restoration import estimate_sigma

    noisy = np.random.default_rng(1).normal(0.5, 0.07, (64, 80))
    assert restoration.noise_sigma(noisy) == pytest.approx(float(estimate_sigma(noisy)), rel=1e-12)


def test_dehaze_of_a_black_frame_is_black() -> None:
    # Was IndexError: the airlight percentile of an empty selection (fed NaN by denoise).
    black = np.zeros((32, 32), np.float32)
    np.testing.assert_array_equal(restoration.dehaze(restoration.denoise(black, 1.0), 1.0), black)


# --- every engine on constant, black, white and tiny pairs -----------------------------------------

PAIRS = {
    "black": (np.zeros((32, 32), np.float32), np.zeros((32, 32, 3), np.float32)),
    "white": (np.ones((32, 32), np.float32), np.ones((32, 32, 3), np.float32)),
    "black ir": (np.zeros((32, 32), np.uint8), np.random.default_rng(2).random((32, 32)).astype(np.float32)),
    "constant uint16": (np.full((20, 30), 4000, np.uint16), np.full((20, 30), 9, np.uint8)),
    "2x2": (np.array([[0, 255], [255, 0]], np.uint8), np.zeros((2, 2, 3), np.uint8)),
    "2x2 flat": (np.full((2, 2), 7, np.uint8), np.full((2, 2), 7, np.uint8)),
    "2x50": (np.zeros((2, 50), np.float32), np.ones((2, 50), np.float32)),
    "50x2": (np.random.default_rng(3).random((50, 2)), np.zeros((50, 2))),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", list(PAIRS))
def test_every_engine_fuses_constant_and_tiny_pairs_to_a_finite_image(engine: str, case: str) -> None:
    ir, vis = PAIRS[case]
    copies = ir.copy(), vis.copy()
    shape = vis.shape[:2]
    for kwargs in ({"prompt": ""}, {"prompt": "the infrared image is noisy"},
                   {"prompt": EVERY_PROMPT}, {"auto": True}):
        result = fuse(ir, vis, engine=engine, device="cpu", **kwargs)  # type: ignore[arg-type]
        _check_image01(result.image, shape)
    np.testing.assert_array_equal(ir, copies[0])
    np.testing.assert_array_equal(vis, copies[1])


@pytest.mark.parametrize("engine", ENGINES)
def test_black_frame_noisy_and_hazy_is_black_not_nan(engine: str) -> None:
    # Was 100 % NaN (estimate_sigma on a constant image) or IndexError (dehaze), reported as success.
    black = np.zeros((48, 64), np.float32)
    for prompt in ("the infrared image is noisy", "the visible image is noisy and hazy"):
        result = fuse(black, black, prompt, engine=engine, device="cpu")
        _check_image01(result.image, black.shape)
        assert result.image.max() < 0.05
    _check_image01(fuse(black, black, auto=True, engine=engine, device="cpu").image, black.shape)


def test_textif_network_is_finite_on_constant_and_tiny_inputs() -> None:
    torch = pytest.importorskip("torch")
    from napari_textif.engines import FusionRequest
    from napari_textif.engines.textif import engine as textif_engine
    from napari_textif.engines.textif.net import TextIFConfig, TextIFNet

    torch.manual_seed(0)
    net = TextIFNet(TextIFConfig(dim=8, heads=(1, 2, 2, 4), norm_groups=4)).eval()
    for shape, value in (((2, 2), 0.0), ((2, 2), 1.0), ((3, 17), 0.0), ((16, 16), 0.5)):
        ir, vis = np.full(shape, value, np.float32), np.full((*shape, 3), value, np.float32)
        visible, infrared = textif_engine._network_inputs(vis, ir)
        request = FusionRequest(ir, vis, Controls(), "")
        runner = textif_engine._Runner(net, torch.randn(1, 512), "fp32", request)
        with torch.inference_mode():
            out = runner.fuse(visible, infrared, "cpu", {})[0]
        assert out.shape[:2] == shape and np.isfinite(out).all(), (shape, value)


def test_fuse_refuses_a_non_finite_engine_result_naming_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    from napari_textif.engines import EngineOutput
    from napari_textif.engines.classic.engine import ClassicEngine

    def broken(self: ClassicEngine, request: object) -> EngineOutput:
        return EngineOutput(np.full((8, 8), np.nan, np.float32), device="cpu")

    monkeypatch.setattr(ClassicEngine, "run", broken)
    with pytest.raises(RuntimeError, match="engine 'classic' returned 64 NaN or infinite values"):
        fuse(np.zeros((8, 8), np.float32), np.zeros((8, 8), np.float32), engine="classic")


# --- values outside the float32 range (item 5) ---------------------------------------------------


def _ramp(shape: tuple[int, int] = (32, 40)) -> np.ndarray:
    return np.linspace(0.0, 1.0, shape[0] * shape[1]).reshape(shape)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda r: r * 1e39 + 1e38, id="float64 around 1e39"),
        pytest.param(lambda r: r * 1e300 + 1e299, id="float64 around 1e300"),
        pytest.param(lambda r: ((2 * r - 1) * 3e38).astype(np.float32), id="float32 spanning +-3e38"),
        pytest.param(lambda r: (2 * r - 1) * 1.7e308, id="float64 spanning +-1.7e308"),
    ],
)
def test_values_beyond_float32_scale_in_float64(
    engine: str, make: Callable[[np.ndarray], np.ndarray]
) -> None:
    ramp = _ramp()
    ir = make(ramp)
    result = fuse(ir, make(ramp[::-1]), engine=engine, device="cpu")
    _check_image01(result.image, ramp.shape)
    assert result.image.max() - result.image.min() > 0.3  # not all zero, not all one
    assert _no_nan_in(result.notes), result.notes
    converted, note = imaging.to_float01(ir, name="infrared")
    np.testing.assert_allclose(converted, ramp, atol=1e-6)
    assert note is not None and note.startswith("infrared: float values in [")
    found = detect(ir, make(ramp))
    assert np.isfinite(found.controls.to_vector()).all()


def test_constant_huge_float_image_is_black_with_a_note() -> None:
    data, note = imaging.to_float01(np.full((4, 4), 1e39), name="visible")
    np.testing.assert_array_equal(data, 0.0)
    assert note is not None and "visible: constant" in note


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("argument", ["infrared", "visible"])
def test_non_finite_input_is_a_value_error_naming_the_argument(argument: str, bad: float) -> None:
    images = {"infrared": np.zeros((8, 8), np.float64), "visible": np.zeros((8, 8), np.float32)}
    images[argument][3, 4] = bad
    with pytest.raises(ValueError, match=f"^{argument} contains 1 NaN or infinite values"):
        fuse(images["infrared"], images["visible"], engine="classic")
    with pytest.raises(ValueError, match=f"^{argument} contains 1 NaN or infinite values"):
        detect(images["infrared"], images["visible"])


# --- thin images (item 6) ---------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 2000), (5, 2000), (2000, 5), (2, 700), (15, 15)])
def test_detect_measures_what_it_can_on_thin_images_and_says_what_it_skipped(shape: tuple[int, int]) -> None:
    # Were IndexError (3x2000: percentile of an empty downsample) and "too small to calculate a
    # numerical gradient" (5x2000).
    rng = np.random.default_rng(4)
    ir, vis = rng.random(shape), (rng.random((*shape, 3)) * 0.1).astype(np.float32)
    found = detect(ir, vis)
    assert np.isfinite(found.controls.to_vector()).all()
    assert found.controls.vis_low_light > 0.5  # the exposure is measured at any size
    skipped = [n for n in found.notes if n.startswith("detection: the images")]
    assert len(skipped) == 1 and f"{shape[0]}x{shape[1]} px" in skipped[0]
    for name in ("vis_noise", "vis_haze", "vis_rain", "vis_blur", "ir_noise", "ir_stripe_noise"):
        assert name in skipped[0] and getattr(found.controls, name) == 0.0
    assert str(MIN_MEASURE_SIDE) in skipped[0]
    assert all(np.isfinite(v) for v in measure(ir, vis).values())


def test_detect_on_a_pair_of_the_minimum_side_measures_everything() -> None:
    rng = np.random.default_rng(5)
    side = MIN_MEASURE_SIDE
    found = detect(rng.random((side, 3000)), rng.random((side, 3000)))
    assert not any(n.startswith("detection: the images") for n in found.notes)


@pytest.mark.parametrize("engine", ENGINES)
def test_fuse_auto_on_a_thin_image_fuses_and_passes_on_the_note(engine: str) -> None:
    rng = np.random.default_rng(6)
    ir, vis = rng.random((3, 2000)).astype(np.float32), rng.random((3, 2000, 3)).astype(np.float32)
    result = fuse(ir, vis, auto=True, engine=engine, device="cpu")
    _check_image01(result.image, (3, 2000))
    assert any(n.startswith("detection: the images (3x2000 px) are too small") for n in result.notes)


# --- Hypothesis: fuse and detect over shapes, dtypes and wild value ranges -------------------------

_DTYPES = ("bool", "uint8", "uint16", "int16", "float32", "float64")
_RANGES = ("unit", "full", "constant", "huge", "tiny", "negative", "narrow", "extremes")
_PROMPTS = ("", "the infrared image is noisy", "the visible image is dark and hazy", EVERY_PROMPT)


def _make(dtype_name: str, kind: str, shape: tuple[int, ...], seed: int) -> np.ndarray:
    """An image of ``dtype_name`` whose values follow the range ``kind``."""
    rng = np.random.default_rng(seed)
    dtype = np.dtype(dtype_name)
    unit = rng.random(shape)
    if dtype.kind == "b":
        return unit > 0.5 if kind != "constant" else np.ones(shape, bool)
    if dtype.kind in "ui":
        info = np.iinfo(dtype)
        low, high = int(info.min), int(info.max)
        if kind == "constant":
            return np.full(shape, rng.integers(low, high, endpoint=True), dtype)
        if kind == "narrow":
            start = int(rng.integers(low, high - 200))
            return rng.integers(start, start + 200, shape).astype(dtype)
        if kind == "extremes":
            return np.where(unit > 0.5, high, low).astype(dtype)
        return rng.integers(low, high, shape, endpoint=True).astype(dtype)
    biggest = float(np.finfo(dtype).max)
    scale = {"unit": 1.0, "full": 1e6, "huge": biggest / 2, "tiny": 1e-30 if dtype == np.float32 else 1e-300,
             "negative": 1e3, "narrow": 1e-3, "extremes": biggest, "constant": 1.0}[kind]
    if kind == "constant":
        value = rng.choice([0.0, 1.0, -5.0, 1e30, -biggest, biggest, 1e-300])
        return np.full(shape, value, dtype)
    if kind == "negative":
        return (-scale * (unit + 0.01)).astype(dtype)
    if kind == "extremes":
        return np.where(unit > 0.5, biggest, -biggest).astype(dtype)
    if kind == "narrow":
        return (1e4 + scale * unit).astype(dtype)
    values = scale * unit if kind in ("unit", "tiny") else scale * (2 * unit - 1)
    return values.astype(dtype)


@st.composite
def _image_pairs(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    h, w = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    channels = draw(st.sampled_from([None, None, 1, 3, 4]))
    ir_shape = draw(st.sampled_from([(h, w), (h, w), (h, w, 3)]))
    vis_shape = (h, w) if channels is None else (h, w, channels)
    images = []
    for shape in (ir_shape, vis_shape):
        dtype, kind = draw(st.sampled_from(_DTYPES)), draw(st.sampled_from(_RANGES))
        images.append(_make(dtype, kind, shape, draw(st.integers(0, 2**32 - 1))))
    return images[0], images[1]


def _refusal_is_clear(exc: Exception) -> None:
    assert isinstance(exc, ValueError | TypeError), repr(exc)
    assert str(exc).strip(), repr(exc)


_HYPOTHESIS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_HYPOTHESIS
@given(
    _image_pairs(),
    st.sampled_from(["classic"] + (["lite"] if _available("lite") else [])),
    st.sampled_from(_PROMPTS),
    st.booleans(),
)
def test_fuse_output_is_always_finite_in_unit_range(
    pair: tuple[np.ndarray, np.ndarray], engine: str, prompt: str, auto: bool
) -> None:
    ir, vis = pair
    copies = ir.copy(), vis.copy()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = fuse(ir, vis, prompt, engine=engine, auto=auto, device="cpu")
    except Exception as exc:  # the property is about which exceptions
        _refusal_is_clear(exc)
    else:
        _check_image01(result.image)
        assert result.image.shape[:2] == vis.shape[:2]
        assert _no_nan_in(result.notes), result.notes
    np.testing.assert_array_equal(ir, copies[0])
    np.testing.assert_array_equal(vis, copies[1])


@_HYPOTHESIS
@given(_image_pairs())
def test_detect_output_is_always_finite_in_unit_range(pair: tuple[np.ndarray, np.ndarray]) -> None:
    ir, vis = pair
    try:
        found = detect(ir, vis)
    except Exception as exc:  # the property is about which exceptions
        _refusal_is_clear(exc)
        return
    vector = np.asarray(found.controls.to_vector())
    assert np.isfinite(vector).all() and vector.min() >= -1.0 and vector.max() <= 1.0
    degradations = [getattr(found.controls, name) for name in DEGRADATIONS]
    assert all(0.0 <= v <= 1.0 for v in degradations)
