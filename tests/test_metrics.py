"""Fusion metrics: hand-computed values, identities and agreement with reference formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import ndimage, signal

from napari_textif import metrics

QG = 0.9994
QA_MAX = 0.9879 / (1 + math.exp(-22 * 0.2))


def u8(rows: list[list[int]]) -> np.ndarray:
    return np.array(rows, dtype=np.uint8)


def smooth_image(seed: int, shape: tuple[int, int] = (48, 56), sigma: float = 1.5) -> np.ndarray:
    """A natural-looking uint8 test image (smooth noise stretched to 10..245)."""
    rng = np.random.default_rng(seed)
    x = ndimage.gaussian_filter(rng.random(shape), sigma)
    x = (x - x.min()) / (x.max() - x.min())
    return np.round(10 + 235 * x).astype(np.uint8)


# --------------------------------------------------------------------------- hand-computed values


def test_entropy_hand_value():
    # levels 0, 0, 1, 2 -> p = 1/2, 1/4, 1/4 -> 1.5 bits
    assert metrics.entropy(u8([[0, 0], [1, 2]])) == pytest.approx(1.5)
    assert metrics.entropy(u8([[7, 7], [7, 7]])) == 0.0


def test_std_dev_hand_value():
    assert metrics.std_dev(u8([[0, 0], [255, 255]])) == pytest.approx(127.5)
    # population, not sample: values 1..4 -> sqrt(1.25)
    assert metrics.std_dev(u8([[1, 2], [3, 4]])) == pytest.approx(math.sqrt(1.25))


def test_spatial_frequency_hand_value():
    # row differences 3, 3 (mean square 9), column differences 4, 4 (16) -> 5
    assert metrics.spatial_frequency(u8([[0, 3], [4, 7]])) == pytest.approx(5.0)
    # 2x3: row diffs (1, 2, 1, 2) -> 2.5; column diffs (3, 3, 3) -> 9; sqrt(11.5)
    assert metrics.spatial_frequency(u8([[0, 1, 3], [3, 4, 6]])) == pytest.approx(math.sqrt(11.5))


def test_average_gradient_hand_value():
    # gx = 1 (one-sided), 2 (central: (4-0)/2), 3 (one-sided); gy = 0 -> mean(gx)/sqrt(2)
    image = u8([[0, 1, 4], [0, 1, 4], [0, 1, 4]])
    assert metrics.average_gradient(image) == pytest.approx(2 / math.sqrt(2))


def test_mutual_information_hand_value():
    # joint (0,0):1/4, (0,1):1/4, (1,1):1/2; p(F) = 1/2, 1/2; p(A) = 1/4, 3/4
    f = u8([[0, 0], [1, 1]])
    a = u8([[0, 1], [1, 1]])
    expected = 0.25 * math.log(2) + 0.25 * math.log(2 / 3) + 0.5 * math.log(4 / 3)
    constant = u8([[9, 9], [9, 9]])
    assert metrics.mutual_information(f, a, constant) == pytest.approx(expected)
    # F determines A and B exactly: each term is A's entropy in nats (ln 2)
    f4 = u8([[0, 1], [2, 3]])
    assert metrics.mutual_information(f4, u8([[0, 0], [5, 5]]), u8([[0, 5], [0, 5]])) == pytest.approx(
        2 * math.log(2)
    )


def test_scd_hand_value():
    a = u8([[1, 2], [3, 4]])
    b = u8([[3, 2], [1, 0]])
    f = u8([[3, 2], [2, 1]])  # F - B = (0, 0, 1, 1), F - A = (2, 0, -1, -3)
    expected = 2 / math.sqrt(5) + 8 / math.sqrt(65)
    assert metrics.scd(f, a, b) == pytest.approx(expected)


def test_psnr_hand_value():
    x, y = np.full((3, 3), 10, np.uint8), np.full((3, 3), 20, np.uint8)
    assert metrics.psnr(x, y) == pytest.approx(10 * math.log10(255**2 / 100))
    assert metrics.psnr(x, x) == math.inf


def test_ssim_hand_value_single_window():
    # one 7x7 window; y = x + 10: equal variances and covariance, only luminance differs
    x = np.arange(49, dtype=np.uint8).reshape(7, 7)
    y = x + 10
    for data_range in (255.0, 2.0):
        c1 = (0.01 * data_range) ** 2
        expected = (2 * 24 * 34 + c1) / (24**2 + 34**2 + c1)
        assert metrics.ssim(y, x, data_range=data_range) == pytest.approx(expected)
    assert metrics.ssim_sum(y, x, x, convention="correct") == pytest.approx(
        2 * (2 * 24 * 34 + 6.5025) / (24**2 + 34**2 + 6.5025)
    )


def test_qabf_hand_value_half_contrast():
    # a point source; F at half contrast keeps every orientation and half the strength
    a = u8([[0, 0, 0], [0, 8, 0], [0, 0, 0]])
    f = a.astype(np.float64) / 2  # 0..4 (max above 1, so taken on the 0..255 scale)
    expected = (QG / (1 + math.exp(0.0))) * QA_MAX
    assert metrics.qabf(f, a, a) == pytest.approx(expected)


def test_qabf_orthogonal_edges_score_low():
    # A varies along x only, F along y only: inside the image orientations differ by pi/2
    a = np.tile(np.arange(0, 60, 10, dtype=np.uint8), (6, 1))
    assert metrics.qabf(a.T.copy(), a, a) < 0.25 * metrics.qabf(a, a, a)


def test_vif_scale_hand_values():
    # s11 = 2, s22 = 8, s12 = 4: gain 2, no residual noise -> log10(1 + 4*2/2) / log10(1 + 2/2)
    num, den = metrics._vif_scale(np.array([2.0]), np.array([8.0]), np.array([4.0]))
    assert num == pytest.approx(math.log10(5))
    assert den == pytest.approx(math.log10(2))
    # negative gain: g -> 0 and the distortion variance becomes the noise, num = 0
    num, den = metrics._vif_scale(np.array([2.0]), np.array([8.0]), np.array([-4.0]))
    assert num == 0.0 and den == pytest.approx(math.log10(2))
    # flat reference window: contributes nothing to either sum
    assert metrics._vif_scale(np.array([0.0]), np.array([8.0]), np.array([0.0])) == (0.0, 0.0)


def test_vif_identities():
    a = smooth_image(1)
    assert metrics.vif(a.astype(float) + 7, a, a) == pytest.approx(2.0, abs=1e-9)
    assert metrics.vif(np.full(a.shape, 100, np.uint8), a, a) == 0.0
    flat = np.full(a.shape, 50, np.uint8)
    assert metrics.vif(a, flat, a) == pytest.approx(2.0)  # 0/0 reported as 1, as the evaluator does


# --------------------------------------------------------------------------- reference formulas


def literature_vif(ref: np.ndarray, dist: np.ndarray) -> float:
    """Straight transcription of the definition with 2-D kernels and full-size masks."""
    num = den = 0.0
    for scale in range(1, 5):
        n = 2 ** (4 - scale + 1) + 1
        sd = n / 5.0
        m = (n - 1) / 2
        y, x = np.ogrid[-m : m + 1, -m : m + 1]
        win = np.exp(-(x * x + y * y) / (2 * sd * sd))
        win /= win.sum()
        if scale > 1:
            ref = signal.convolve2d(ref, win, mode="valid")[::2, ::2]
            dist = signal.convolve2d(dist, win, mode="valid")[::2, ::2]
        mu1, mu2 = signal.convolve2d(ref, win, "valid"), signal.convolve2d(dist, win, "valid")
        s1 = signal.convolve2d(ref * ref, win, "valid") - mu1 * mu1
        s2 = signal.convolve2d(dist * dist, win, "valid") - mu2 * mu2
        s12 = signal.convolve2d(ref * dist, win, "valid") - mu1 * mu2
        s1[s1 < 0] = 0
        s2[s2 < 0] = 0
        g = s12 / (s1 + 1e-10)
        sv = s2 - g * s12
        g[s1 < 1e-10] = 0
        sv[s1 < 1e-10] = s2[s1 < 1e-10]
        s1[s1 < 1e-10] = 0
        g[s2 < 1e-10] = 0
        sv[s2 < 1e-10] = 0
        sv[g < 0] = s2[g < 0]
        g[g < 0] = 0
        sv[sv <= 1e-10] = 1e-10
        num += np.sum(np.log10(1 + g**2 * s1 / (sv + 2)))
        den += np.sum(np.log10(1 + s1 / 2))
    return num / den


def literature_qabf(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Per-pixel transcription of the Xydeas-Petrovic evaluator (loops over pixels)."""

    def sobel(img):
        sx = signal.convolve2d(img, [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], mode="same")
        sy = signal.convolve2d(img, [[1, 2, 1], [0, 0, 0], [-1, -2, -1]], mode="same")
        ang = np.empty_like(img)
        for idx in np.ndindex(img.shape):
            ang[idx] = math.pi / 2 if sx[idx] == 0 else math.atan(sy[idx] / sx[idx])
        return np.sqrt(sx * sx + sy * sy), ang

    def q(gs, as_, gf, af):
        out = np.empty_like(gs)
        for idx in np.ndindex(gs.shape):
            if gs[idx] > gf[idx]:
                gr = gf[idx] / gs[idx]
            elif gs[idx] == gf[idx]:
                gr = gf[idx]
            else:
                gr = gs[idx] / gf[idx]
            ar = 1 - abs(as_[idx] - af[idx]) / (math.pi / 2)
            out[idx] = QG / (1 + math.exp(-15 * (gr - 0.5))) * 0.9879 / (1 + math.exp(-22 * (ar - 0.8)))
        return out

    (ga, aa), (gb, ab), (gf, af) = sobel(a), sobel(b), sobel(f)
    return float(np.sum(q(ga, aa, gf, af) * ga + q(gb, ab, gf, af) * gb) / np.sum(ga + gb))


def test_vif_matches_transcribed_definition():
    a, b = smooth_image(2).astype(float), smooth_image(3, sigma=0.8).astype(float)
    f = np.round(0.6 * a + 0.4 * b)
    assert metrics.vif(f, a, b) == pytest.approx(literature_vif(a, f) + literature_vif(b, f), rel=1e-9)


def test_qabf_matches_transcribed_definition():
    a, b = smooth_image(4, (20, 24)), smooth_image(5, (20, 24), sigma=0.7)
    f = np.maximum(a, b)
    expected = literature_qabf(*(x.astype(float) for x in (f, a, b)))
    assert metrics.qabf(f, a, b) == pytest.approx(expected, rel=1e-12)


def ssim_recipe(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    """The documented recipe a torch loss mirrors: 7x7 mean pooling without padding,
    sample (co)variances (factor 49/48), C1 = (0.01 L)^2, C2 = (0.03 L)^2."""

    def pool(z):
        return signal.convolve2d(z, np.full((7, 7), 1 / 49), mode="valid")

    c1, c2 = metrics.ssim_constants(data_range)
    mx, my = pool(x), pool(y)
    k = 49 / 48
    vx, vy = k * (pool(x * x) - mx * mx), k * (pool(y * y) - my * my)
    cxy = k * (pool(x * y) - mx * my)
    s = (2 * mx * my + c1) * (2 * cxy + c2) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


@pytest.mark.parametrize("data_range", [255.0, 2.0])
def test_ssim_matches_documented_recipe(data_range):
    x, y = smooth_image(6, (20, 30)), smooth_image(7, (20, 30), sigma=2.5)
    expected = ssim_recipe(x.astype(float), y.astype(float), data_range)
    assert metrics.ssim(x, y, data_range=data_range) == pytest.approx(expected, rel=1e-10)


def test_ssim_agrees_with_scikit_image_and_conventions():
    from skimage.metrics import structural_similarity

    f, a, b = (smooth_image(s, (30, 40)).astype(float) for s in (8, 9, 10))
    for name, span in metrics.SSIM_CONVENTIONS.items():
        expected = sum(structural_similarity(f, s, data_range=span, win_size=7) for s in (a, b))
        assert metrics.ssim_sum(f, a, b, convention=name) == pytest.approx(expected)
    assert metrics.ssim_sum(f, a, b, data_range=2.0) == metrics.ssim_sum(f, a, b, convention="literature")


def test_psnr_agrees_with_scikit_image():
    from skimage.metrics import peak_signal_noise_ratio

    x, y = smooth_image(11), smooth_image(12)
    expected = peak_signal_noise_ratio(y.astype(float), x.astype(float), data_range=255)
    assert metrics.psnr(x, y) == pytest.approx(expected)


def test_entropy_agrees_with_scikit_image():
    from skimage.measure import shannon_entropy

    x = smooth_image(13)
    assert metrics.entropy(x) == pytest.approx(shannon_entropy(x, base=2))


# --------------------------------------------------------------------------- identities


def test_fusing_a_with_itself():
    a = smooth_image(14)
    scores = metrics.compute_all(a, a, a, ssim_convention="correct")
    entropy_nats = metrics.entropy(a) * math.log(2)
    assert scores["MI"] == pytest.approx(2 * entropy_nats)
    assert scores["SCD"] == 0.0  # F - A and F - B are constant
    assert scores["VIF"] == pytest.approx(2.0)
    assert scores["Qabf"] == pytest.approx(QG * QA_MAX, rel=1e-6)
    assert scores["SSIM"] == pytest.approx(2.0)


def test_identity_maximises_similarity_scores():
    a = smooth_image(15)
    rng = np.random.default_rng(0)
    candidates = {
        "blurred": ndimage.gaussian_filter(a.astype(float), 1.5),
        "noisy": np.clip(a + rng.normal(0, 12, a.shape), 0, 255),
        "darker": a.astype(float) * 0.6,
        "shifted": np.roll(a, 2, axis=1),
    }
    best = metrics.compute_all(a, a, a)
    for name, f in candidates.items():
        scores = metrics.compute_all(f, a, a)
        for key in ("MI", "Qabf", "SSIM"):
            assert scores[key] < best[key], (name, key)


def test_source_order_does_not_matter():
    f, a, b = smooth_image(16), smooth_image(17), smooth_image(18, sigma=0.7)
    forward, swapped = metrics.compute_all(f, a, b), metrics.compute_all(f, b, a)
    assert forward == pytest.approx(swapped, rel=1e-12)


@pytest.mark.parametrize(("seed", "shift"), [(s, int(d)) for s, d in enumerate(np.linspace(-40, 40, 12))])
def test_shift_invariance(seed, shift):
    image = np.random.default_rng(seed).integers(50, 200, (12, 14)).astype(np.float64)
    moved = image + shift
    assert metrics.std_dev(moved) == pytest.approx(metrics.std_dev(image), rel=1e-9)
    assert metrics.spatial_frequency(moved) == pytest.approx(metrics.spatial_frequency(image), rel=1e-9)
    assert metrics.average_gradient(moved) == pytest.approx(metrics.average_gradient(image), rel=1e-9)
    assert metrics.entropy(moved) == pytest.approx(metrics.entropy(image))


@pytest.mark.parametrize("seed", range(12))
def test_bounds(seed):
    rng = np.random.default_rng(seed)
    f, a, b = (rng.integers(0, 256, (9, 11)).astype(np.uint8) for _ in range(3))
    assert 0.0 <= metrics.entropy(f) <= 8.0
    mi = metrics.mutual_information(f, a, b)
    assert 0.0 <= mi <= 2 * metrics.entropy(f) * math.log(2) + 1e-9
    assert -2.0 - 1e-9 <= metrics.scd(f, a, b) <= 2.0 + 1e-9
    assert 0.0 <= metrics.qabf(f, a, b) <= QG * QA_MAX + 1e-12
    assert -2.0 <= metrics.ssim_sum(f, a, b) <= 2.0


def test_dtypes_and_layouts_give_the_same_numbers():
    a, b, f = smooth_image(19), smooth_image(20), smooth_image(21)
    reference = metrics.compute_all(f, a, b)
    as_float01 = metrics.compute_all(f / 255.0, a / 255.0, (b / 255.0).astype(np.float32))
    as_float255 = metrics.compute_all(f.astype(np.float64), a, b)
    as_rgb = metrics.compute_all(np.dstack([f] * 3), np.dstack([a, a, a, np.full_like(a, 255)]), b)
    as_u16 = metrics.compute_all(f.astype(np.uint16) * 257, a, b)
    for other in (as_float01, as_float255, as_rgb, as_u16):
        assert other == pytest.approx(reference, rel=1e-5)


def test_colour_uses_bt601_luma():
    rgb = np.zeros((8, 8, 3), np.uint8)
    rgb[..., 0], rgb[..., 1], rgb[..., 2] = 100, 50, 200
    expected = 0.299 * 100 + 0.587 * 50 + 0.114 * 200  # 82.05, read as grey level 82
    np.testing.assert_array_equal(metrics.to_gray255(rgb), round(expected))


def test_inputs_are_not_modified():
    f, a, b = smooth_image(22), smooth_image(23), smooth_image(24)
    copies = [x.copy() for x in (f, a, b)]
    metrics.compute_all(f, a, b)
    for original, copy in zip((f, a, b), copies, strict=True):
        np.testing.assert_array_equal(original, copy)


def test_compute_all_keys_and_order():
    a, b = smooth_image(25), smooth_image(26)
    scores = metrics.compute_all((a.astype(float) + b) / 2, a, b)
    assert tuple(scores) == metrics.METRIC_NAMES
    assert all(isinstance(v, float) and math.isfinite(v) for v in scores.values())


# --------------------------------------------------------------------------- errors


def test_size_mismatch_names_the_arguments():
    with pytest.raises(ValueError, match=r"fused \(48, 56\).*infrared \(48, 50\)"):
        metrics.compute_all(smooth_image(1), smooth_image(2, (48, 50)), smooth_image(3))


def test_bad_float_range_is_explained():
    with pytest.raises(ValueError, match="fused must be a float image in"):
        metrics.entropy(np.full((4, 4), 300.0))


def test_unknown_ssim_convention():
    a = smooth_image(1)
    with pytest.raises(ValueError, match="ssim convention must be one of 'literature', 'correct'"):
        metrics.compute_all(a, a, a, ssim_convention="matlab")


def test_small_images_are_explained():
    with pytest.raises(ValueError, match="VIF needs images of at least 41x41"):
        metrics.vif(*(smooth_image(s, (40, 60)) for s in (1, 2, 3)))
    with pytest.raises(ValueError, match="SSIM needs images of at least 7x7"):
        metrics.ssim(np.zeros((6, 9), np.uint8), np.zeros((6, 9), np.uint8))
    with pytest.raises(ValueError, match="data_range must be a positive number"):
        metrics.ssim(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), data_range=0)
