"""Reading and writing image files (PNG, JPEG, BMP, TIFF) for the CLI and scripts."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

READ_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
WRITE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: Name of the temporary file :func:`atomic_path` writes before renaming: ``.<name>.tmp-<pid>``.
_TEMPORARY = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")


def temporary_path(path: str | Path) -> Path:
    """The temporary file beside ``path`` that this process writes before renaming it to ``path``."""
    path = Path(path)
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Write a file under a temporary name in the same folder, then rename it to ``path``.

    The body writes to the yielded path; when it finishes the file is flushed
    to disk (``fsync``) and renamed onto ``path`` with :func:`os.replace`, so
    ``path`` is either its old content or the complete new file, never a part.
    When the body raises (including ``KeyboardInterrupt``) the temporary file
    is removed and ``path`` is left as it was. Missing parent folders are created.

    Parameters
    ----------
    path : str or Path
        The final file.

    Yields
    ------
    Path
        ``.<name>.tmp-<pid>`` beside ``path`` (see :func:`remove_stale_temporaries`).

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> with atomic_path(folder / "a.txt") as tmp:
    ...     _ = tmp.write_text("complete")
    >>> sorted(p.name for p in folder.iterdir()), (folder / "a.txt").read_text()
    (['a.txt'], 'complete')
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_path(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """:func:`open` for writing through :func:`atomic_path`: ``path`` appears only when complete.

    Parameters
    ----------
    path : str or Path
    mode : str
        ``"wb"`` or ``"w"`` (text; ``kwargs`` such as ``encoding`` and ``newline`` go to :func:`open`).
    """
    if mode not in ("w", "wb"):
        raise ValueError(f"mode must be 'w' or 'wb', got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as handle:
        yield handle


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would end the process there; keep the file
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. PermissionError: another user's live process
        return True
    return True


def remove_stale_temporaries(folder: str | Path, *, names: Iterable[str] | None = None,
                             suffixes: Iterable[str] | None = None) -> list[Path]:
    """Delete the ``.<name>.tmp-<pid>`` files of :func:`atomic_path` whose process is gone.

    Such files are left only when a writer was killed (SIGKILL, power loss); a
    temporary file of a running process is kept.

    Parameters
    ----------
    folder : str or Path
        Where to look (not recursively); a missing folder has none.
    names : iterable of str, optional
        Only temporaries of these final file names.
    suffixes : iterable of str, optional
        Only temporaries of final names ending in one of these (case-insensitive).

    Returns
    -------
    list of Path
        The files removed.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    wanted = None if names is None else set(names)
    endings = None if suffixes is None else tuple(s.lower() for s in suffixes)
    removed = []
    for entry in sorted(folder.iterdir()):
        match = _TEMPORARY.match(entry.name)
        if match is None or not entry.is_file():
            continue
        name = match["name"]
        if (wanted is not None and name not in wanted) or (endings and not name.lower().endswith(endings)):
            continue
        if _pid_alive(int(match["pid"])):
            continue
        with contextlib.suppress(FileNotFoundError):
            entry.unlink()
            removed.append(entry)
    return removed


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name the same file or folder: equal once resolved, or the same inode.

    Symbolic links and ``..`` are resolved; hard links and other aliases of an
    existing file are caught with :func:`os.path.samefile`.
    """
    a, b = Path(a), Path(b)
    if a.resolve() == b.resolve():
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return False


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file into an ndarray, keeping its dtype.

    Palette images become RGB (or RGBA with transparency); 16-bit images stay
    uint16; TIFF files are read with tifffile.

    Raises
    ------
    FileNotFoundError
        When ``path`` does not exist.
    IsADirectoryError
        When ``path`` is a folder.
    ValueError
        When the file is not an image this package reads, or is damaged or
        truncated (the message names the file).
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"{path} is a folder; expected an image file ({', '.join(READ_SUFFIXES)})")
    if not path.is_file():
        raise FileNotFoundError(f"image file not found: {path}")
    try:
        return _read_file(path)
    except (FileNotFoundError, PermissionError, MemoryError):
        raise
    except Exception as exc:
        if str(path) in str(exc):
            raise
        lines = str(exc).strip().splitlines()
        raise ValueError(
            f"could not read image file {path}: {lines[0] if lines else type(exc).__name__}"
        ) from exc


def _read_file(path: Path) -> np.ndarray:
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
        The suffix chooses the format; missing parent folders are created. The
        file is written under a temporary name and renamed when complete
        (:func:`atomic_path`), so ``path`` never holds a partial image.
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
    data = quantize(image, bits)
    with atomic_open(path, "wb") as handle:
        if suffix in (".tif", ".tiff"):
            import tifffile

            tifffile.imwrite(handle, data, photometric="rgb" if data.ndim == 3 else "minisblack")
        elif bits == 16:
            _write_png16(handle, data)
        else:
            from PIL import Image

            options = {"format": "PNG"} if suffix == ".png" else {"format": "JPEG", "quality": 95}
            Image.fromarray(data).save(handle, **options)
    return path


def quantize(image: np.ndarray, bits: int) -> np.ndarray:
    """Round a float ``[0, 1]`` image to uint8 or uint16."""
    top = 255 if bits == 8 else 65535
    dtype = np.uint8 if bits == 8 else np.uint16
    return np.round(np.clip(np.asarray(image, np.float64), 0.0, 1.0) * top).astype(dtype)


def _write_png16(handle: IO[bytes], data: np.ndarray) -> None:
    # Pillow cannot write 16-bit RGB PNGs; pypng writes any bit depth.
    import png

    height, width = data.shape[:2]
    planes = 1 if data.ndim == 2 else data.shape[2]
    writer = png.Writer(width, height, bitdepth=16, greyscale=planes == 1)
    writer.write(handle, data.reshape(height, width * planes).tolist())


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
