"""Reading and writing image files (PNG, JPEG, BMP, TIFF) for the CLI and scripts."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file into an ndarray, keeping its dtype.

    Palette images become RGB (or RGBA with transparency); 16-bit images stay
    uint16; TIFF files are read with tifffile.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    ValueError
        When the file is not an image this package reads.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    if path.suffix.lower() in (".tif", ".tiff"):
        import tifffile

        return np.asarray(tifffile.imread(path))
    if path.suffix.lower() == ".png" and _png_bitdepth(path) == 16:
        return _read_png16(path)
    return _read_with_pillow(path)


def _png_bitdepth(path: Path) -> int | None:
    import png

    try:
        reader = png.Reader(filename=str(path))
        reader.preamble()
    except png.Error:
        return None
    return int(reader.bitdepth)


def _read_png16(path: Path) -> np.ndarray:
    # Pillow reads 16-bit colour PNGs as 8 bits; pypng keeps all 16.
    import png

    width, height, rows, info = png.Reader(filename=str(path)).asDirect()
    data = np.vstack([np.asarray(row, np.uint16) for row in rows])
    planes = int(info["planes"])
    return data.reshape(height, width, planes) if planes > 1 else data.reshape(height, width)


def _read_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            if img.mode == "P":
                img = img.convert("RGBA" if "transparency" in img.info else "RGB")
            elif img.mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(img, dtype=np.uint16)
            elif img.mode in ("CMYK", "YCbCr", "LAB", "HSV", "1", "LA", "PA"):
                img = img.convert("RGBA" if img.mode in ("LA", "PA") else "RGB")
            return np.asarray(img)
    except UnidentifiedImageError as exc:
        raise ValueError(f"not an image file this package can read: {path}") from exc


def write_image(path: str | Path, image: np.ndarray, *, bits: int = 8) -> Path:
    """Write a float ``[0, 1]`` image as an 8- or 16-bit PNG/TIFF or an 8-bit JPEG.

    Parameters
    ----------
    path : str or Path
        The suffix chooses the format; missing parent folders are created.
    image : ndarray
        ``(H, W)`` or ``(H, W, 3)`` float in ``[0, 1]``.
    bits : {8, 16}
        Bit depth of the file (JPEG is 8-bit only).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in WRITE_SUFFIXES:
        raise ValueError(f"output must end in one of {', '.join(WRITE_SUFFIXES)}, got {path.name!r}")
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    if bits == 16 and suffix in (".jpg", ".jpeg"):
        raise ValueError("bits=16 needs a .png or .tif output; JPEG stores 8 bits only")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = quantize(image, bits)
    if suffix in (".tif", ".tiff"):
        import tifffile

        tifffile.imwrite(path, data, photometric="rgb" if data.ndim == 3 else "minisblack")
    elif bits == 16:
        _write_png16(path, data)
    else:
        from PIL import Image

        Image.fromarray(data).save(path, **({"quality": 95} if suffix != ".png" else {}))
    return path


def quantize(image: np.ndarray, bits: int) -> np.ndarray:
    """Round a float ``[0, 1]`` image to uint8 or uint16."""
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    return np.round(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * top).astype(dtype)


def _write_png16(path: Path, data: np.ndarray) -> None:
    # Pillow cannot write 16-bit RGB PNGs; pypng writes any bit depth.
    import png

    height, width = data.shape[:2]
    planes = 1 if data.ndim == 2 else data.shape[2]
    writer = png.Writer(width, height, bitdepth=16, greyscale=planes == 1)
    with open(path, "wb") as fh:
        writer.write(fh, data.reshape(height, width * planes).tolist())


def file_sha256(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks (weights records and provenance use it)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def list_images(folder: str | Path, *, role: str = "image") -> dict[str, Path]:
    """Map file stem -> path for the readable images directly inside ``folder``.

    Parameters
    ----------
    folder : str or Path
    role : str
        What the folder holds ("infrared", "fused"...), used in error messages.

    Raises
    ------
    NotADirectoryError
        When ``folder`` is not a folder.
    ValueError
        When two images share a stem (``x.png`` and ``x.jpg``): matching by name
        would be ambiguous.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"{role} folder not found: {folder}")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if not (path.is_file() and path.suffix.lower() in READ_SUFFIXES):
            continue
        if path.stem in found:
            raise ValueError(
                f"{role} folder {folder} has two images named {path.stem!r} "
                f"({found[path.stem].name}, {path.name}); keep one so pairs match by name"
            )
        found[path.stem] = path
    return found
