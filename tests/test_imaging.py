"""Imaging conventions: every dtype and channel layout, colour, padding, tiling."""

from __future__ import annotations

import numpy as np
import pytest

from napari_textif import imaging

RNG = np.random.default_rng(0)


def _make(dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == "bool":
        return RNG.random(shape) > 0.5
    if dtype in ("float32", "float64"):
        return RNG.random(shape).astype(dtype)
    info = np.iinfo(dtype)
    return RNG.integers(info.min, info.max, size=shape, endpoint=True).astype(dtype)


@pytest.mark.parametrize("dtype", imaging.SUPPORTED_DTYPES)
@pytest.mark.parametrize("shape", [(9, 11), (9, 11, 1), (9, 11, 3), (9, 11, 4)])
def test_prepare_every_dtype_and_layout(dtype, shape):
    image = _make(dtype, shape)
    before = image.copy()
    out = imaging.prepare(image, name="img").data
    assert out.dtype == np.float32
    assert out.shape[:2] == (9, 11)
    assert out.ndim == (3 if len(shape) == 3 and shape[2] in (3, 4) else 2)
    assert 0.0 <= out.min() and out.max() <= 1.0
    np.testing.assert_array_equal(image, before)


def test_uint8_and_bool_scale_by_range():
    data, note = imaging.to_float01(np.array([[0, 51, 255]], np.uint8))
    np.testing.assert_allclose(data, [[0, 0.2, 1]], atol=1e-6)
    assert note is None
    assert imaging.to_float01(np.array([[True, False]]))[0].tolist() == [[1.0, 0.0]]


def test_int16_scales_by_full_signed_range():
    data, _ = imaging.to_float01(np.array([[-32768, 0, 32767]], np.int16))
    np.testing.assert_allclose(data, [[0, 32768 / 65535, 1]], atol=1e-6)


def test_narrow_uint16_thermal_is_normalised_robustly_and_says_so():
    thermal = (7000 + RNG.normal(0, 300, (64, 64))).astype(np.uint16)
    thermal[10:20, 10:20] = 9000
    data, note = imaging.to_float01(thermal, name="infrared")
    assert note is not None and "percentile" in note and "infrared" in note
    assert data.max() == pytest.approx(1.0) and data.min() == pytest.approx(0.0)
    assert data[10:20, 10:20].mean() > 0.95


def test_full_range_uint16_scales_by_dtype():
    image = np.array([[0, 65535], [30000, 1000]], np.uint16)
    data, note = imaging.to_float01(image)
    assert note is None
    np.testing.assert_allclose(data, image / 65535.0, atol=1e-6)


def test_float_outside_unit_range_is_min_max_scaled_with_note():
    data, note = imaging.to_float01(np.array([[-2.0, 0.0, 2.0]]), name="visible")
    np.testing.assert_allclose(data, [[0, 0.5, 1]])
    assert note and "visible" in note


def test_three_equal_channels_become_one_and_alpha_is_dropped():
    gray = RNG.random((5, 6)).astype(np.float32)
    assert imaging.normalize_channels(np.dstack([gray] * 3)).shape == (5, 6)
    rgba = RNG.random((5, 6, 4)).astype(np.float32)
    np.testing.assert_array_equal(imaging.normalize_channels(rgba), rgba[..., :3])


def test_ycbcr_round_trip_and_luminance_swap_keeps_chroma():
    rgb = RNG.random((8, 8, 3)).astype(np.float32) * 0.6 + 0.2
    np.testing.assert_allclose(imaging.ycbcr_to_rgb(imaging.rgb_to_ycbcr(rgb)), rgb, atol=2e-3)
    out = imaging.with_luminance(rgb, imaging.to_gray(rgb))
    np.testing.assert_allclose(out, rgb, atol=2e-3)
    brighter = imaging.with_luminance(rgb, imaging.to_gray(rgb) + 0.1)
    np.testing.assert_allclose(imaging.rgb_to_ycbcr(brighter)[..., 1:], imaging.rgb_to_ycbcr(rgb)[..., 1:],
                               atol=3e-3)


def test_with_luminance_can_write_into_the_visible_image():
    rgb = RNG.random((700, 9, 3)).astype(np.float32) * 0.6 + 0.2  # more rows than one block
    y = imaging.to_gray(rgb) + 0.05
    expected = imaging.with_luminance(rgb, y)
    out = imaging.with_luminance(rgb, y, out=rgb)
    assert out is rgb
    np.testing.assert_array_equal(rgb, expected)


def test_gray_visible_stays_gray():
    assert imaging.with_luminance(np.zeros((4, 4), np.float32), np.ones((4, 4))).shape == (4, 4)


@pytest.mark.parametrize("shape", [(5, 7), (16, 16), (17, 3), (2, 2)])
def test_pad_and_crop_round_trip_without_resizing(shape):
    image = RNG.random((*shape, 3)).astype(np.float32)
    padded, original = imaging.pad_to_multiple(image, 8)
    assert padded.shape[0] % 8 == 0 and padded.shape[1] % 8 == 0
    np.testing.assert_array_equal(imaging.crop_to(padded, original), image)


def test_tile_grid_covers_every_pixel_with_overlap():
    grid = imaging.tile_grid((300, 500), 128, 32)
    covered = np.zeros((300, 500), int)
    for t in grid:
        covered[t.rows, t.cols] += 1
    assert covered.min() >= 1


def test_tiled_identity_has_no_seams():
    image = RNG.random((200, 260)).astype(np.float32)
    out = imaging.tiled(lambda x: x, (image,), tile=64, overlap=16)
    np.testing.assert_allclose(out, image, atol=1e-5)


def test_tiled_keeps_border_weights_with_a_very_wide_overlap():
    image = RNG.random((2, 16500)).astype(np.float32)
    out = imaging.tiled(lambda x: x, (image,), tile=16400, overlap=8200)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, image, atol=1e-5)


def test_tiled_margin_leaves_out_what_the_tile_padding_reached():
    """A filter of radius 4 tiled with a margin of 6 equals the whole-image filter exactly."""
    from scipy import ndimage

    image = RNG.random((150, 230)).astype(np.float32)

    def smooth(tile: np.ndarray) -> np.ndarray:
        return ndimage.uniform_filter(tile, 9, mode="reflect")

    whole = smooth(image)
    kept = imaging.tiled(smooth, (image,), tile=64, overlap=16, margin=6)
    plain = imaging.tiled(smooth, (image,), tile=64, overlap=16)
    np.testing.assert_allclose(kept, whole, atol=1e-5)
    assert np.abs(plain - whole).max() > 1e-3


@pytest.mark.parametrize(("shape", "tile", "overlap", "margin"),
                         [((200, 260), 64, 16, 8), ((97, 301), 40, 24, 10), ((2, 16500), 16400, 8200, 4000),
                          ((50, 50), 64, 16, 8)])
def test_tiled_identity_with_a_margin_covers_every_pixel(shape, tile, overlap, margin):
    image = RNG.random(shape).astype(np.float32)
    out = imaging.tiled(lambda x: x, (image,), tile=tile, overlap=overlap, margin=margin)
    np.testing.assert_allclose(out, image, atol=1e-5)


@pytest.mark.parametrize("width", [530, 100])
@pytest.mark.parametrize("margin", [0, 9])
def test_tiled_blends_like_the_per_tile_windows(width, margin):
    """The 1-D weight sums equal the running sum of the 2-D windows that stacks blend with,
    also where a second tile reaches into the first one's border (width 100)."""
    image = RNG.random((150, width, 3)).astype(np.float32)

    def shift(tile: np.ndarray) -> np.ndarray:  # differs per tile, so the weights matter
        return tile + tile.mean()

    out = imaging.tiled(shift, (image,), tile=96, overlap=24, align=8, margin=margin)
    total, weight = np.zeros_like(image), np.zeros(image.shape[:2], np.float32)
    for t in imaging.tile_grid(image.shape[:2], 96, 24, align=8):
        imaging.blend_tile(total, weight, shift(image[t.rows, t.cols]), t, 24,
                           shape=image.shape[:2], margin=margin)
    np.testing.assert_allclose(out, imaging.finish_blend(total, weight), atol=1e-5)


@pytest.mark.parametrize("margin", [-1, 13])
def test_tiled_refuses_a_margin_outside_half_the_overlap(margin):
    with pytest.raises(ValueError, match="margin"):
        imaging.tiled(lambda x: x, (np.zeros((100, 100), np.float32),), tile=40, overlap=24, margin=margin)


def test_tiled_reports_progress_and_can_cancel():
    calls = []

    def progress(done, total):
        calls.append((done, total))
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        imaging.tiled(lambda x: x, (np.zeros((100, 100), np.float32),), tile=40, overlap=8, progress=progress)
    assert calls == [(1, 9), (2, 9)]


@pytest.mark.parametrize(
    ("image", "error", "words"),
    [
        (np.zeros((5, 5), np.complex64), TypeError, "dtype"),
        (np.array([[object()]]), TypeError, "dtype"),
        (np.zeros((2, 3, 4, 5), np.uint8), ValueError, "2-D"),
        (np.zeros((4, 5, 2), np.uint8), ValueError, "C in 1, 3, 4"),
        (np.zeros((1, 5), np.uint8), ValueError, "at least"),
        (np.zeros((0, 0), np.uint8), ValueError, "at least"),
        (np.array([[0.1, np.nan], [0.2, 0.3]]), ValueError, "NaN"),
        (np.array([[0.1, np.inf], [0.2, 0.3]]), ValueError, "NaN"),
        (None, TypeError, "None"),
    ],
)
def test_bad_images_get_errors_naming_the_argument(image, error, words):
    with pytest.raises(error, match=words) as info:
        imaging.check_image(image, "visible")
    assert "visible" in str(info.value)


def test_size_mismatch_names_both_shapes_and_suggests_registration():
    with pytest.raises(ValueError, match=r"\(10, 12\).*\(10, 13\).*register"):
        imaging.check_same_size(np.zeros((10, 12)), np.zeros((10, 13, 3)))
