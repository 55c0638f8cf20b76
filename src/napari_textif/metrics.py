"""Fusion quality metrics, computed the way the infrared/visible fusion literature computes them.

Every metric works on grayscale (BT.601 luma ``0.299 R + 0.587 G + 0.114 B``)
rounded to grey levels 0..255, in float64 (:func:`to_gray255` says how each
dtype gets there). ``A`` and ``B`` are the two sources (infrared, visible), ``F`` the fused
image. The definitions follow the evaluator most fusion papers copy (the one of
CDDFuse, Zhao et al., CVPR 2023), so the numbers compare with published tables:

=========  ==================================================================
EN         Shannon entropy (bits) of the 256-bin histogram of ``F`` rounded
SD         population standard deviation of ``F``
SF         spatial frequency (row and column first differences)
AG         average gradient (central differences)
MI         ``MI(F, A) + MI(F, B)``, one bin per grey level, natural log
SCD        sum of the correlations of differences
VIF        ``VIF(A -> F) + VIF(B -> F)``, pixel-domain, 4 scales
Qabf       Xydeas-Petrovic gradient-based edge preservation
SSIM       ``SSIM(F, A) + SSIM(F, B)``, 7x7 uniform window
=========  ==================================================================

For degradation studies there are reference-based :func:`psnr` and :func:`ssim`.
SciPy and scikit-image are imported on first use, so importing this module is cheap.

SSIM conventions (:data:`SSIM_CONVENTIONS`): the most cited table computed SSIM
on 0..255 floats with ``data_range=2`` (scikit-image's old default for floats),
which makes its stabilising constants negligible. ``"literature"`` reproduces
that; ``"correct"`` uses ``data_range=255``. Reports always name the one used.
"""

from __future__ import annotations

import numpy as np

from napari_textif import imaging

METRIC_NAMES: tuple[str, ...] = ("EN", "SD", "SF", "AG", "MI", "SCD", "VIF", "Qabf", "SSIM")
#: SSIM convention name -> ``data_range`` used on the 0..255 scale.
SSIM_CONVENTIONS: dict[str, float] = {"literature": 2.0, "correct": 255.0}
DEFAULT_SSIM_CONVENTION = "literature"
#: SSIM window side (uniform window, sample covariance), and the constants
#: ``C1 = (K1 * data_range) ** 2`` and ``C2 = (K2 * data_range) ** 2``.
SSIM_WINDOW = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03

_VIF_NOISE_VAR = 2.0
_VIF_EPS = 1e-10
_VIF_WINDOWS = (17, 9, 5, 3)
#: The smallest image side for which all four VIF scales exist.
VIF_MIN_SIDE = 41
# Xydeas-Petrovic sigmoid constants: (Gamma, k, sigma) for strength and orientation.
_QABF_STRENGTH = (0.9994, -15.0, 0.5)
_QABF_ORIENTATION = (0.9879, -22.0, 0.8)
_SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float64)
_SOBEL_X = np.array([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=np.float64)


# ----------------------------------------------------------------------------- conversion


def to_gray255(image: object, *, name: str = "image") -> np.ndarray:
    """Convert an image to the metrics' grayscale: grey levels 0..255 as float64.

    ``uint8`` is used as is; ``bool`` maps to 0 and 255; other integer dtypes
    are scaled as :func:`napari_textif.imaging.to_float01` does (by dtype range,
    or robustly for narrow 16-bit data) and multiplied by 255. Floats in
    ``[0, 1]`` are multiplied by 255; floats in ``[0, 255]`` with a maximum above
    1 are taken as already on the 0..255 scale (how literature code holds
    images). Alpha is dropped, three equal channels become one, and colour
    becomes BT.601 luma ``0.299 R + 0.587 G + 0.114 B``. The result is rounded
    to whole grey levels (half to even), which is what the common evaluator
    reads from an 8-bit file, so an image scores the same in memory and saved.

    Parameters
    ----------
    image : array_like
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``.
    name : str
        The argument's name for error messages.

    Returns
    -------
    ndarray
        float64 ``(H, W)`` of whole numbers 0..255; a new array (the input is never modified).

    Raises
    ------
    ValueError
        For floats outside ``[0, 255]`` (their scale cannot be guessed).

    Examples
    --------
    >>> to_gray255(np.array([[0.0, 1.0], [0.5, 0.2]])).tolist()
    [[0.0, 255.0], [128.0, 51.0]]
    """
    array = imaging.check_image(image, name)
    if array.dtype == np.uint8:
        data = array.astype(np.float64)
    elif array.dtype.kind == "f":
        data = _float_to_255(array, name)
    else:
        data = imaging.to_float01(array, name=name)[0].astype(np.float64) * 255.0
    data = imaging.normalize_channels(data)
    data = imaging.to_gray(data)
    return np.clip(np.round(data), 0.0, 255.0)


def _float_to_255(array: np.ndarray, name: str) -> np.ndarray:
    low, high = float(array.min()), float(array.max())
    if low >= 0.0 and high <= 1.0:
        return array.astype(np.float64) * 255.0
    if low >= 0.0 and high <= 255.0:
        return array.astype(np.float64)
    raise ValueError(
        f"{name} must be a float image in [0, 1] or [0, 255] (or an integer image), got values "
        f"in [{low:g}, {high:g}]; rescale it first"
    )


def _levels(gray: np.ndarray) -> np.ndarray:
    """The grey levels of a :func:`to_gray255` image as int64 histogram indices."""
    return gray.astype(np.int64)


def _same_shape(**images: np.ndarray) -> None:
    shapes = {name: im.shape for name, im in images.items()}
    if len(set(shapes.values())) > 1:
        listed = ", ".join(f"{name} {shape}" for name, shape in shapes.items())
        raise ValueError(f"images must have the same height and width, got {listed}")


def _triple(fused: object, a: object, b: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    f, ga, gb = to_gray255(fused, name="fused"), to_gray255(a, name="a"), to_gray255(b, name="b")
    _same_shape(fused=f, a=ga, b=gb)
    return f, ga, gb


# ----------------------------------------------------------------------------- fused-only


def entropy(fused: object) -> float:
    r"""Shannon entropy EN (bits) of the fused image's 256-bin grey-level histogram.

    :math:`EN = -\sum_{l=0}^{255} p_l \log_2 p_l` with :math:`p_l` the fraction of
    pixels at level *l* after rounding to 0..255 (Roberts et al., J. Appl.
    Remote Sens. 2008). Higher means more information.

    Examples
    --------
    >>> entropy(np.array([[0, 0], [255, 255]], dtype=np.uint8))
    1.0
    """
    return _entropy(to_gray255(fused, name="fused"))


def _entropy(f: np.ndarray) -> float:
    p = np.bincount(_levels(f).ravel(), minlength=256) / f.size
    p = p[p > 0]
    return 0.0 - float(np.sum(p * np.log2(p)))


def std_dev(fused: object) -> float:
    """Population standard deviation SD of the fused image (contrast; higher is more).

    Examples
    --------
    >>> std_dev(np.array([[0, 0], [255, 255]], dtype=np.uint8))
    127.5
    """
    return float(np.std(to_gray255(fused, name="fused")))


def spatial_frequency(fused: object) -> float:
    r"""Spatial frequency SF (Eskicioglu & Fisher, IEEE TCOM 1995).

    :math:`SF = \sqrt{RF^2 + CF^2}` with :math:`RF^2` the mean of
    :math:`(F_{i,j+1} - F_{i,j})^2` and :math:`CF^2` the mean of
    :math:`(F_{i+1,j} - F_{i,j})^2`, each over its own valid differences.

    Examples
    --------
    >>> spatial_frequency(np.array([[0, 3], [4, 7]], dtype=np.uint8))
    5.0
    """
    return _spatial_frequency(to_gray255(fused, name="fused"))


def _spatial_frequency(f: np.ndarray) -> float:
    rows = np.mean(np.diff(f, axis=1) ** 2)
    cols = np.mean(np.diff(f, axis=0) ** 2)
    return float(np.sqrt(rows + cols))


def average_gradient(fused: object) -> float:
    r"""Average gradient AG: mean of :math:`\sqrt{(G_x^2 + G_y^2) / 2}` over all pixels.

    Gradients are central differences, one-sided at the borders
    (:func:`numpy.gradient`), as in Cui et al., Opt. Commun. 2015.

    Examples
    --------
    >>> average_gradient(np.array([[0, 2], [0, 2]], dtype=np.uint8))
    1.4142135623730951
    """
    return _average_gradient(to_gray255(fused, name="fused"))


def _average_gradient(f: np.ndarray) -> float:
    gy, gx = np.gradient(f)
    return float(np.mean(np.sqrt((gx**2 + gy**2) / 2.0)))


# ----------------------------------------------------------------------------- source-based


def mutual_information(fused: object, a: object, b: object) -> float:
    r"""Mutual information MI = MI(F, A) + MI(F, B) (Qu et al., Electron. Lett. 2002).

    :math:`MI(X, Y) = \sum_{x,y} p(x,y) \ln \frac{p(x,y)}{p(x) p(y)}` from the
    joint histogram with one bin per grey level (images rounded to 0..255) and
    the natural logarithm: the convention of the common evaluator (it used
    scikit-learn's ``mutual_info_score``), so values are in nats.

    Examples
    --------
    >>> a = np.array([[0, 0], [255, 255]], dtype=np.uint8)
    >>> round(mutual_information(a, a, a), 6)  # 2 ln 2
    1.386294
    """
    f, ga, gb = _triple(fused, a, b)
    return _mutual_information(f, ga, gb)


def _mutual_information(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    lf = _levels(f).ravel()
    return _mi_pair(lf, _levels(a).ravel()) + _mi_pair(lf, _levels(b).ravel())


def _mi_pair(x: np.ndarray, y: np.ndarray) -> float:
    joint = np.bincount(x * 256 + y, minlength=256 * 256).reshape(256, 256) / x.size
    outer = np.outer(joint.sum(axis=1), joint.sum(axis=0))
    nz = joint > 0
    return max(float(np.sum(joint[nz] * np.log(joint[nz] / outer[nz]))), 0.0)


def scd(fused: object, a: object, b: object) -> float:
    r"""Sum of the correlations of differences SCD (Aslantas & Bendes, AEU 2015).

    :math:`SCD = r(A, F - B) + r(B, F - A)` with :math:`r` the Pearson
    correlation over all pixels. A correlation with a constant image is taken
    as 0 (it is undefined), so ``scd(A, A, B)`` counts only ``r(A, A - B)``.

    Examples
    --------
    >>> a = np.array([[0, 10], [20, 30]], dtype=np.uint8)
    >>> b = np.array([[5, 5], [5, 5]], dtype=np.uint8)
    >>> scd(a + 5, a, b)  # r(A, A) + r(B, constant) = 1 + 0
    1.0
    """
    f, ga, gb = _triple(fused, a, b)
    return _scd(f, ga, gb)


def _scd(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return _pearson(a, f - b) + _pearson(b, f - a)


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    dx, dy = x - x.mean(), y - y.mean()
    denominator = np.sqrt(np.sum(dx * dx) * np.sum(dy * dy))
    return float(np.sum(dx * dy) / denominator) if denominator > 0 else 0.0


def vif(fused: object, a: object, b: object) -> float:
    """Visual information fidelity VIF = VIF(A -> F) + VIF(B -> F).

    The pixel-domain multi-scale VIF of Sheikh & Bovik (IEEE TIP 2006) with
    the fusion literature's settings: 4 scales with Gaussian windows of side
    N = 17, 9, 5, 3 and sigma N / 5; from scale 2 on each image is low-passed
    with that scale's window and downsampled by 2; all filtering keeps only
    the valid part; noise variance 2. Numerators and denominators are summed
    over the scales before dividing. A constant source gives 0 / 0, which the
    common evaluator reports as 1.0; so do we. Images need at least
    :data:`VIF_MIN_SIDE` pixels per side.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (48, 48)).astype(np.uint8)
    >>> round(vif(a, a, a), 6)  # a distortion-free "fusion" keeps all information
    2.0
    """
    f, ga, gb = _triple(fused, a, b)
    return _vif(f, ga, gb)


def _vif(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    if min(f.shape) < VIF_MIN_SIDE:
        raise ValueError(
            f"VIF needs images of at least {VIF_MIN_SIDE}x{VIF_MIN_SIDE} pixels (4 scales), "
            f"got {f.shape}"
        )
    return _vif_pair(a, f) + _vif_pair(b, f)


def _gaussian_1d(size: int) -> np.ndarray:
    sigma = size / 5.0
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(stack: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Separable correlation of each image in ``stack`` keeping only the valid part."""
    from scipy import ndimage

    half = (kernel.size - 1) // 2
    out = ndimage.correlate1d(stack, kernel, axis=-2, mode="constant")
    out = ndimage.correlate1d(out, kernel, axis=-1, mode="constant")
    return out[..., half : out.shape[-2] - half, half : out.shape[-1] - half]


def _vif_pair(ref: np.ndarray, dist: np.ndarray) -> float:
    num = den = 0.0
    for scale, size in enumerate(_VIF_WINDOWS):
        kernel = _gaussian_1d(size)
        if scale > 0:
            ref, dist = _filter_valid(np.stack([ref, dist]), kernel)[:, ::2, ::2]
        mu1, mu2, e11, e22, e12 = _filter_valid(
            np.stack([ref, dist, ref * ref, dist * dist, ref * dist]), kernel
        )
        scale_num, scale_den = _vif_scale(e11 - mu1 * mu1, e22 - mu2 * mu2, e12 - mu1 * mu2)
        num, den = num + scale_num, den + scale_den
    # den == 0 only for a flat reference, where num is 0 too: 0/0, reported as 1 by the evaluator
    return float(num / den) if den > 0.0 else 1.0


def _vif_scale(s11: np.ndarray, s22: np.ndarray, s12: np.ndarray) -> tuple[float, float]:
    """One scale's information sums, with the reference code's guards in its order."""
    eps = _VIF_EPS
    s11, s22 = np.maximum(s11, 0.0), np.maximum(s22, 0.0)
    g = s12 / (s11 + eps)
    sv = s22 - g * s12
    flat_ref = s11 < eps
    g[flat_ref], sv[flat_ref], s11[flat_ref] = 0.0, s22[flat_ref], 0.0
    flat_dist = s22 < eps
    g[flat_dist], sv[flat_dist] = 0.0, 0.0
    negative = g < 0
    sv[negative], g[negative] = s22[negative], 0.0
    sv = np.maximum(sv, eps)
    num = np.sum(np.log10(1.0 + g * g * s11 / (sv + _VIF_NOISE_VAR)))
    den = np.sum(np.log10(1.0 + s11 / _VIF_NOISE_VAR))
    return float(num), float(den)


def qabf(fused: object, a: object, b: object) -> float:
    r"""Gradient-based edge preservation Q^{AB/F} (Xydeas & Petrovic, Electron. Lett. 2000).

    Sobel gradients (zero padding) give strength :math:`g` and orientation
    :math:`\alpha = \arctan(s_y / s_x)` (:math:`\pi/2` where :math:`s_x = 0`). For
    each source, relative strength :math:`G = \min(g_A, g_F) / \max(g_A, g_F)`
    and orientation :math:`A = 1 - |\alpha_A - \alpha_F| / (\pi/2)` pass through
    sigmoids :math:`\Gamma / (1 + e^{k (x - \sigma)})` with
    :math:`\Gamma_g = 0.9994, k_g = -15, \sigma_g = 0.5` and
    :math:`\Gamma_a = 0.9879, k_a = -22, \sigma_a = 0.8`; their product
    :math:`Q^{AF}` is averaged with weights :math:`g_A` (L = 1):
    :math:`Q = \sum (Q^{AF} g_A + Q^{BF} g_B) / \sum (g_A + g_B)`.
    Where :math:`g_A = g_F` the common evaluator uses :math:`g_F` itself as the
    relative strength (not 1); we keep that so numbers match (it matters only
    for equal gradients below about 1 grey level). Sources without any
    gradient give 0.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.integers(0, 256, (16, 16)).astype(np.uint8)
    >>> round(qabf(a, a, a), 4)  # the maximum, 0.9994 * 0.9879 / (1 + exp(-4.4))
    0.9753
    """
    f, ga, gb = _triple(fused, a, b)
    return _qabf(f, ga, gb)


def _qabf(f: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    g_f, alpha_f = _sobel(f)
    g_a, alpha_a = _sobel(a)
    g_b, alpha_b = _sobel(b)
    total = np.sum(g_a) + np.sum(g_b)
    if total == 0.0:
        return 0.0
    q_af = _edge_preservation(g_a, alpha_a, g_f, alpha_f)
    q_bf = _edge_preservation(g_b, alpha_b, g_f, alpha_f)
    return float(np.sum(q_af * g_a + q_bf * g_b) / total)


def _sobel(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from scipy import ndimage

    sx = ndimage.convolve(image, _SOBEL_X, mode="constant")
    sy = ndimage.convolve(image, _SOBEL_Y, mode="constant")
    ratio = np.divide(sy, sx, out=np.zeros_like(sy), where=sx != 0)
    return np.hypot(sx, sy), np.where(sx == 0, np.pi / 2, np.arctan(ratio))


def _edge_preservation(
    g_s: np.ndarray, alpha_s: np.ndarray, g_f: np.ndarray, alpha_f: np.ndarray
) -> np.ndarray:
    low, high = np.minimum(g_s, g_f), np.maximum(g_s, g_f)
    strength = np.divide(low, high, out=np.zeros_like(low), where=high > 0)
    strength = np.where(g_s == g_f, g_f, strength)
    orientation = 1.0 - np.abs(alpha_s - alpha_f) / (np.pi / 2)
    return _sigmoid(strength, *_QABF_STRENGTH) * _sigmoid(orientation, *_QABF_ORIENTATION)


def _sigmoid(x: np.ndarray, gamma: float, k: float, sigma: float) -> np.ndarray:
    return gamma / (1.0 + np.exp(k * (x - sigma)))


# ----------------------------------------------------------------------------- SSIM and PSNR


def ssim_data_range(convention: str) -> float:
    """The ``data_range`` of an SSIM convention name (:data:`SSIM_CONVENTIONS`).

    Examples
    --------
    >>> ssim_data_range("correct")
    255.0
    """
    if convention not in SSIM_CONVENTIONS:
        raise ValueError(
            f"ssim convention must be one of {', '.join(map(repr, SSIM_CONVENTIONS))}, "
            f"got {convention!r}"
        )
    return SSIM_CONVENTIONS[convention]


def ssim_constants(data_range: float) -> tuple[float, float]:
    """SSIM's stabilising constants ``(C1, C2) = ((K1 L)^2, (K2 L)^2)`` for ``L = data_range``.

    Examples
    --------
    >>> [round(c, 4) for c in ssim_constants(255.0)]
    [6.5025, 58.5225]
    """
    return (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2


def ssim(image: object, reference: object, *, data_range: float = 255.0) -> float:
    r"""Structural similarity of ``image`` to ``reference`` (Wang et al., IEEE TIP 2004).

    The mean over all fully contained 7x7 windows (uniform weights, no padding)
    of :math:`\frac{(2\mu_x\mu_y + C_1)(2\sigma_{xy} + C_2)}{(\mu_x^2 + \mu_y^2 + C_1)
    (\sigma_x^2 + \sigma_y^2 + C_2)}`, with sample (co)variances (divided by 48,
    not 49) and :math:`C_1 = (0.01 L)^2, C_2 = (0.03 L)^2`, :math:`L` =
    ``data_range`` on the 0..255 grayscale. This is scikit-image's
    ``structural_similarity`` with ``win_size=7`` and its defaults, which computes it.

    Parameters
    ----------
    image, reference : array_like
        Images of the same height and width, at least 7x7 pixels.
    data_range : float, optional
        255 (the default) is the correct range of the 0..255 scale; 2 reproduces the
        literature's convention (see :data:`SSIM_CONVENTIONS`).

    Examples
    --------
    >>> a = np.arange(64, dtype=np.uint8).reshape(8, 8)
    >>> ssim(a, a)
    1.0
    """
    x, y = to_gray255(image, name="image"), to_gray255(reference, name="reference")
    _same_shape(image=x, reference=y)
    return _ssim(x, y, _check_data_range(data_range))


def _check_data_range(data_range: object) -> float:
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)) or not data_range > 0:
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    return float(data_range)


def _ssim(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    from skimage.metrics import structural_similarity

    if min(x.shape) < SSIM_WINDOW:
        raise ValueError(
            f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {x.shape}"
        )
    value = structural_similarity(
        x, y, win_size=SSIM_WINDOW, data_range=data_range, K1=SSIM_K1, K2=SSIM_K2,
        gaussian_weights=False, use_sample_covariance=True,
    )
    return float(value)


def ssim_sum(
    fused: object,
    a: object,
    b: object,
    *,
    data_range: float | None = None,
    convention: str = DEFAULT_SSIM_CONVENTION,
) -> float:
    """SSIM(F, A) + SSIM(F, B), the fusion literature's SSIM (see :func:`ssim`).

    Parameters
    ----------
    fused, a, b : array_like
    data_range : float, optional
        Explicit data range on the 0..255 scale; overrides ``convention``.
    convention : {"literature", "correct"}
        ``"literature"`` (default): ``data_range=2`` as the widely copied table;
        ``"correct"``: ``data_range=255``.

    Examples
    --------
    >>> a = np.arange(64, dtype=np.uint8).reshape(8, 8)
    >>> ssim_sum(a, a, a, convention="correct")
    2.0
    """
    f, ga, gb = _triple(fused, a, b)
    span = ssim_data_range(convention) if data_range is None else _check_data_range(data_range)
    return _ssim(f, ga, span) + _ssim(f, gb, span)


def psnr(image: object, reference: object, *, data_range: float = 255.0) -> float:
    r"""Peak signal-to-noise ratio (dB) of ``image`` against ``reference`` on 0..255 grayscale.

    :math:`10 \log_{10}(L^2 / \mathrm{MSE})`; ``inf`` for identical images.

    Examples
    --------
    >>> psnr(np.full((2, 2), 10, np.uint8), np.full((2, 2), 20, np.uint8))  # MSE 100
    28.130803608679106
    """
    x, y = to_gray255(image, name="image"), to_gray255(reference, name="reference")
    _same_shape(image=x, reference=y)
    span = _check_data_range(data_range)
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0.0 else float(10.0 * np.log10(span * span / mse))


# ----------------------------------------------------------------------------- colour

#: Pixels of the reference with at least this HSV saturation and value count as coloured.
COLOURED_SATURATION = 0.2
COLOURED_VALUE = 0.1


def hue_difference(
    fused: object, reference: object, *, min_saturation: float = COLOURED_SATURATION,
    min_value: float = COLOURED_VALUE,
) -> float:
    """Mean hue difference in degrees between ``fused`` and ``reference`` over its coloured pixels.

    How well a fusion kept a pseudo-colour image's colours (PET, SPECT): hue is compared
    on the circle (0..180 degrees), on the pixels where the reference's HSV saturation is
    at least ``min_saturation`` and its value at least ``min_value``.

    Parameters
    ----------
    fused, reference : array_like
        RGB images ``(H, W, 3)`` of the same shape, float in ``[0, 1]`` or integer.

    Returns
    -------
    float
        Degrees; NaN when the reference has no coloured pixel.

    Examples
    --------
    >>> red = np.zeros((4, 4, 3)); red[..., 0] = 1.0
    >>> hue_difference(red * 0.5, red)
    0.0
    """
    from skimage.color import rgb2hsv

    f, r = _rgb01(fused, "fused"), _rgb01(reference, "reference")
    _same_shape(fused=f, reference=r)
    ref_hsv, fused_hsv = rgb2hsv(r), rgb2hsv(f)
    coloured = (ref_hsv[..., 1] >= min_saturation) & (ref_hsv[..., 2] >= min_value)
    if not coloured.any():
        return float("nan")
    turn = np.abs(fused_hsv[..., 0] - ref_hsv[..., 0])[coloured]
    return float(np.mean(np.minimum(turn, 1.0 - turn)) * 360.0)


def _rgb01(image: object, name: str) -> np.ndarray:
    array = np.asarray(image)
    if array.ndim != 3 or array.shape[2] < 3:
        raise ValueError(f"{name} must be an RGB image (H, W, 3), got shape {array.shape}")
    data, _ = imaging.to_float01(array[..., :3], name=name)
    return data.astype(np.float64)


# ----------------------------------------------------------------------------- all at once


def compute_all(
    fused: object,
    infrared: object,
    visible: object,
    *,
    ssim_convention: str = DEFAULT_SSIM_CONVENTION,
) -> dict[str, float]:
    """Every fusion metric of :data:`METRIC_NAMES` for one fused image and its sources.

    Parameters
    ----------
    fused, infrared, visible : array_like
        Images of the same height and width (at least 41x41 for VIF); any
        supported dtype (see :func:`to_gray255`).
    ssim_convention : {"literature", "correct"}
        Which SSIM data range to use (see :data:`SSIM_CONVENTIONS`); say which
        in any report.

    Returns
    -------
    dict of str to float
        Keys EN, SD, SF, AG, MI, SCD, VIF, Qabf, SSIM in that order.

    Examples
    --------
    >>> from napari_textif.samples import synthetic_pair
    >>> ir, vis = synthetic_pair(shape=(48, 64))
    >>> sorted(compute_all(vis, ir, vis)) == sorted(METRIC_NAMES)
    True
    """
    span = ssim_data_range(ssim_convention)
    f = to_gray255(fused, name="fused")
    a = to_gray255(infrared, name="infrared")
    b = to_gray255(visible, name="visible")
    _same_shape(fused=f, infrared=a, visible=b)
    return {
        "EN": _entropy(f),
        "SD": float(np.std(f)),
        "SF": _spatial_frequency(f),
        "AG": _average_gradient(f),
        "MI": _mutual_information(f, a, b),
        "SCD": _scd(f, a, b),
        "VIF": _vif(f, a, b),
        "Qabf": _qabf(f, a, b),
        "SSIM": _ssim(f, a, span) + _ssim(f, b, span),
    }
