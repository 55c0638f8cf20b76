"""Each classical restoration step moves the statistic it targets, and strength 0 is identity."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from conftest import jpeg_round_trip
from napari_textif import restoration
from napari_textif.engines.classic import pyramid
from napari_textif.imaging import to_gray


@pytest.fixture(scope="module")
def scene(pair) -> np.ndarray:
    return to_gray(pair[1].astype(np.float32) / 255.0)


STEPS = ["brighten", "compress_highlights", "denoise", "dehaze", "derain", "sharpen",
         "stretch_contrast", "destripe"]


@pytest.mark.parametrize("name", STEPS)
def test_strength_zero_is_identity_and_input_untouched(scene, name):
    before = scene.copy()
    out = getattr(restoration, name)(scene, 0.0)
    np.testing.assert_array_equal(out, scene)
    getattr(restoration, name)(scene, 0.8)
    np.testing.assert_array_equal(scene, before)


def test_brighten_raises_mean(scene):
    dark = scene * 0.15  # about three stops under-exposed (an exposure gain undoes it)
    lifted = restoration.brighten(dark, 0.8)
    assert lifted.mean() > dark.mean() + 0.15
    order = np.argsort(dark, axis=None)  # a tone curve: brightness order kept
    assert np.all(np.diff(lifted.ravel()[order]) >= -1e-6)


def test_compress_highlights_lowers_clipped_fraction(scene):
    glare = np.clip(scene * 1.8 + 0.2, 0, 1)
    assert (restoration.compress_highlights(glare, 0.8) > 0.98).mean() < (glare > 0.98).mean()


def test_denoise_reduces_noise(scene):
    noisy = np.clip(scene + np.random.default_rng(0).normal(0, 0.08, scene.shape), 0, 1).astype(np.float32)
    assert np.abs(restoration.denoise(noisy, 0.8) - scene).mean() < np.abs(noisy - scene).mean()


def test_noise_sigma_sees_noise_that_jpeg_smoothed(scene):
    noisy = jpeg_round_trip(np.clip(scene + np.random.default_rng(1).normal(0, 0.05, scene.shape), 0, 1), 50)
    true = float(np.std(noisy - scene))
    from skimage.restoration import estimate_sigma

    assert estimate_sigma(noisy) < 0.5 * true  # the finest scale alone misses most of it
    assert 0.7 * true < restoration.noise_sigma(noisy, correlated=True) < 1.5 * true


def test_denoise_reduces_jpeg_compressed_noise(scene):
    noisy = jpeg_round_trip(np.clip(scene + np.random.default_rng(2).normal(0, 0.05, scene.shape), 0, 1), 50)
    restored = restoration.denoise(noisy, 0.8, correlated=True)
    assert np.abs(restored - scene).mean() < 0.85 * np.abs(noisy - scene).mean()


def test_dehaze_restores_contrast(scene):
    hazy = (scene * 0.4 + 0.55).astype(np.float32)
    assert restoration.dehaze(hazy, 0.8).std() > hazy.std() * 1.3


def test_derain_removes_bright_streaks(scene):
    rainy = scene.copy()
    rainy[:, 10::17] = np.clip(rainy[:, 10::17] + 0.4, 0, 1)
    assert np.abs(restoration.derain(rainy, 1.0) - scene).mean() < np.abs(rainy - scene).mean()


def test_sharpen_raises_gradient_energy(scene):
    blurred = ndimage.gaussian_filter(scene, 1.5)
    assert np.abs(np.diff(restoration.sharpen(blurred, 0.8))).mean() > np.abs(np.diff(blurred)).mean()


def test_stretch_contrast_widens_range(scene):
    flat = (0.45 + 0.1 * scene).astype(np.float32)
    assert restoration.stretch_contrast(flat, 0.8).std() > 1.5 * flat.std()


@pytest.mark.parametrize("strength", [0.3, 0.6, 1.0])
def test_stretch_contrast_gain_is_limited_and_removes_the_lifted_black(scene, strength):
    """A narrow band is widened by at most 1 + s (max_gain - 1), and its black level drops."""
    flat = (0.45 + 0.1 * scene).astype(np.float32)
    out = restoration.stretch_contrast(flat, strength)
    limit = 1.0 + strength * (restoration.IR_MAX_GAIN - 1.0)
    assert out.std() == pytest.approx(limit * flat.std(), rel=0.02)
    assert np.percentile(out, 0.5) < np.percentile(flat, 0.5) - 0.3 * strength
    wide = restoration.stretch_contrast(flat, strength, max_gain=100.0)
    assert wide.std() > out.std()


def test_destripe_flattens_column_means(scene):
    offsets = np.random.default_rng(2).normal(0, 0.05, scene.shape[1])
    striped = np.clip(scene + offsets[None, :], 0, 1).astype(np.float32)
    fixed = restoration.destripe(striped, 1.0)
    assert np.std(np.diff(fixed.mean(0))) < 0.5 * np.std(np.diff(striped.mean(0)))


def test_guided_filter_preserves_a_step_edge():
    step = np.zeros((32, 32), np.float32)
    step[:, 16:] = 1.0
    out = restoration.guided_filter(step, step, radius=3, eps=1e-4)
    assert out[:, 14].max() < 0.05 and out[:, 18].min() > 0.95


def test_laplacian_fusion_of_an_image_with_itself_is_identity(scene):
    np.testing.assert_allclose(pyramid.laplacian_fusion(scene, scene), scene, atol=1e-5)


def test_laplacian_fusion_validates_shapes(scene):
    with pytest.raises(ValueError, match="one shape"):
        pyramid.laplacian_fusion(scene, scene[:-1])


def test_destripe_removes_row_offsets_too(scene):
    rng = np.random.default_rng(5)
    striped = np.clip(scene + rng.normal(0, 0.04, scene.shape[0])[:, None]
                      + rng.normal(0, 0.04, scene.shape[1])[None, :], 0, 1).astype(np.float32)
    fixed = restoration.destripe(striped, 1.0)
    assert np.abs(fixed - scene).mean() < 0.5 * np.abs(striped - scene).mean()


def test_denoise_leaves_a_clean_image_almost_unchanged(scene):
    assert np.abs(restoration.denoise(scene, 1.0) - scene).mean() < 0.01


def test_stretch_contrast_is_monotonic(scene):
    flat = (0.45 + 0.1 * scene).astype(np.float32)
    order = np.argsort(flat, axis=None)
    assert np.all(np.diff(restoration.stretch_contrast(flat, 1.0).ravel()[order]) >= -1e-6)


@pytest.mark.parametrize("name", STEPS)
def test_tiled_restoration_matches_one_piece(name, monkeypatch):
    """A large image is restored tile by tile: the result matches the whole-image result."""
    from napari_textif.samples import synthetic_pair

    image = to_gray(synthetic_pair(shape=(300, 420), seed=4, dark=0.5)[1].astype(np.float32) / 255)
    image = np.clip(image + np.random.default_rng(1).normal(0, 0.03, image.shape), 0, 1).astype(np.float32)
    whole = getattr(restoration, name)(image, 0.7)
    monkeypatch.setattr(restoration, "TILE", 160)
    tiled = getattr(restoration, name)(image, 0.7)
    assert np.abs(tiled - whole).mean() < 2e-3 and np.abs(tiled - whole).max() < 0.1


@pytest.fixture(scope="module")
def colour_scene(pair) -> np.ndarray:
    return pair[1].astype(np.float32) / 255.0


def _tinted_haze(rgb: np.ndarray, transmission: float = 0.45) -> np.ndarray:
    airlight = np.array([0.78, 0.84, 0.95], np.float32)  # bluish haze
    return (rgb * transmission + airlight * (1.0 - transmission)).astype(np.float32)


def test_dehaze_color_removes_tinted_haze_and_keeps_the_input(colour_scene):
    hazy = _tinted_haze(colour_scene)
    before = hazy.copy()
    clear = restoration.dehaze_color(hazy, 0.9)
    np.testing.assert_array_equal(hazy, before)
    assert clear.shape == hazy.shape and clear.dtype == np.float32
    assert np.abs(clear - colour_scene).mean() < 0.6 * np.abs(hazy - colour_scene).mean()
    np.testing.assert_array_equal(restoration.dehaze_color(hazy, 0.0), hazy)


def test_dehaze_color_keeps_a_bright_sky_from_turning_vivid(monkeypatch):
    """A pale, slightly blue sky near the airlight stays pale; its luminance is unchanged."""
    rng = np.random.default_rng(3)
    hazy = np.empty((96, 96, 3), np.float32)
    hazy[:48] = (0.80, 0.84, 0.90)  # a pale blue sky, close to the airlight ...
    hazy[:8] = 0.95  # ... which is read from the brightest haze
    hazy[48:] = 0.45 + 0.3 * rng.random((48, 96, 1)) * np.array([1.0, 0.8, 0.6])
    floored, floor = restoration.dehaze_color(hazy, 1.0), restoration.CHROMA_TRANSMISSION_FLOOR
    monkeypatch.setattr(restoration, "CHROMA_TRANSMISSION_FLOOR", 0.15)
    unfloored = restoration.dehaze_color(hazy, 1.0)

    def saturation(rgb: np.ndarray) -> float:
        return float((rgb.max(axis=2) - rgb.min(axis=2))[16:40].mean())

    # the sky's colour is amplified by at most 1 / floor, not by 1 / transmission (about 5 here)
    assert saturation(floored) <= saturation(hazy) / floor + 0.01
    assert saturation(floored) < 0.75 * saturation(unfloored)
    np.testing.assert_allclose(to_gray(floored), to_gray(unfloored), atol=0.02)


def test_dehaze_color_tiled_matches_one_piece(monkeypatch):
    from napari_textif.samples import synthetic_pair

    hazy = _tinted_haze(synthetic_pair(shape=(300, 420), seed=4)[1].astype(np.float32) / 255)
    whole = restoration.dehaze_color(hazy, 0.7)
    monkeypatch.setattr(restoration, "TILE", 160)
    tiled = restoration.dehaze_color(hazy, 0.7)
    assert np.abs(tiled - whole).mean() < 2e-3 and np.abs(tiled - whole).max() < 0.1


def test_restore_visible_color_matches_luminance_steps_without_haze(colour_scene):
    from napari_textif.controls import Controls
    from napari_textif.imaging import with_luminance

    c = Controls(vis_blur=0.4, vis_rain=0.3)  # luminance steps only: the chroma is kept
    expected = with_luminance(colour_scene, restoration.restore_visible(to_gray(colour_scene), c))
    np.testing.assert_allclose(restoration.restore_visible_color(colour_scene, c), expected, atol=1e-6)
    c = Controls(vis_noise=0.5, vis_blur=0.4)  # the chroma is denoised, the luminance the same
    restored = restoration.restore_visible_color(colour_scene, c)
    luminance = restoration.restore_visible(to_gray(colour_scene), c)
    assert np.abs(to_gray(restored) - luminance).mean() < 2e-3


def _chroma(rgb: np.ndarray) -> np.ndarray:
    from napari_textif.imaging import rgb_to_ycbcr

    return rgb_to_ycbcr(rgb)[..., 1:]


def test_recolour_removes_chroma_noise_and_lifts_dark_colours(colour_scene):
    from napari_textif.controls import Controls

    rng = np.random.default_rng(5)
    noisy = np.clip(colour_scene + rng.normal(0, 0.06, colour_scene.shape), 0, 1).astype(np.float32)
    before = noisy.copy()
    clean = restoration.recolour(noisy, to_gray(noisy), to_gray(colour_scene), Controls(vis_noise=0.6))
    np.testing.assert_array_equal(noisy, before)
    truth = _chroma(colour_scene)
    assert np.abs(_chroma(clean) - truth).mean() < 0.5 * np.abs(_chroma(noisy) - truth).mean()
    dark = (colour_scene * 0.25).astype(np.float32)
    lifted = restoration.recolour(dark, to_gray(dark), to_gray(colour_scene), Controls(vis_low_light=0.8))
    saturation = [float(np.abs(_chroma(image) - 0.5).mean()) for image in (dark, lifted, colour_scene)]
    assert saturation[0] * 1.5 < saturation[1] <= saturation[2] * 1.05
