"""MNIST: its four IDX files, read from a folder or downloaded into a cache with checksums."""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import shutil
import tempfile
import urllib.request
from pathlib import Path

import numpy as np

from regulab.data._dataset import Dataset, _pixel_names
from regulab.errors import DataError, one_line

_MNIST_SHA256 = {
    "train-images-idx3-ubyte.gz": (
        "b09d8b89df4ad239afc76a323dbe9559169cd8cca365467dfe8aa1f7ca54109b"
    ),
    "train-labels-idx1-ubyte.gz": (
        "c51906e7929bbf7c824fbd16019b56297269ca82cba449c5b5d59c0a02147fed"
    ),
    "t10k-images-idx3-ubyte.gz": "f72c2dff3457595ec2fe452d25d97b7f974a74ad5b006687704212bedd1486d8",
    "t10k-labels-idx1-ubyte.gz": "4baf84ddd60ae342cfdd282ec3fba3249a201a4459782165496a7cbebbe49a2e",
}


_MNIST_MIRRORS = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
]


def load_mnist(
    mnist_dir: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
) -> Dataset:
    """Load MNIST: 60000 training images in ``X``, the official 10000 in ``X_test``.

    The four IDX ``.gz`` files are read from ``mnist_dir`` when given, else from
    ``<cache>/mnist`` where ``<cache>`` is ``cache_dir``, ``$REGULAB_CACHE`` or
    ``~/.cache/regulab``. Missing cache files are downloaded (unless ``download=False``) from
    the first mirror that works and kept only if their SHA-256 matches the known one. Pixels
    are scaled to [0, 1]; features are named ``px_<row>_<col>``.

    Examples
    --------
    >>> mnist = load_mnist()  # doctest: +SKIP
    >>> mnist.X.shape, mnist.X_test.shape  # doctest: +SKIP
    ((60000, 784), (10000, 784))
    """
    if mnist_dir is not None:
        folder = Path(mnist_dir).expanduser()
        missing = [name for name in _MNIST_SHA256 if not (folder / name).is_file()]
        if missing:
            raise DataError(f"MNIST files missing in '{folder}': {', '.join(missing)}.")
    else:
        root = cache_dir or os.environ.get("REGULAB_CACHE") or Path.home() / ".cache" / "regulab"
        folder = Path(root).expanduser() / "mnist"
        missing = [name for name in _MNIST_SHA256 if not (folder / name).is_file()]
        if missing and not download:
            raise DataError(
                f"MNIST is not in the cache '{folder}' (missing: {', '.join(missing)}) and "
                "download=False; pass mnist_dir= or allow the download."
            )
        folder.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _download(name, folder)
    train_images = _read_idx(folder / "train-images-idx3-ubyte.gz", ndim=3)
    train_labels = _read_idx(folder / "train-labels-idx1-ubyte.gz", ndim=1)
    test_images = _read_idx(folder / "t10k-images-idx3-ubyte.gz", ndim=3)
    test_labels = _read_idx(folder / "t10k-labels-idx1-ubyte.gz", ndim=1)
    rows, cols = train_images.shape[1:]
    for images, labels, part in [
        (train_images, train_labels, "train"),
        (test_images, test_labels, "t10k"),
    ]:
        if (
            len(images) != len(labels)
            or images.shape[1:] != (rows, cols)
            or labels.max(initial=0) > 9
        ):
            raise DataError(
                f"MNIST {part} files are inconsistent: images {images.shape}, {len(labels)} "
                f"labels with values up to {labels.max(initial=0)} (expected 0..9)."
            )
    return Dataset(
        X=_scale_pixels(train_images),
        y=train_labels.astype(np.int64),
        task="classification",
        feature_names=_pixel_names(rows, cols),
        name="mnist",
        classes=list(range(10)),
        image_shape=(rows, cols),
        X_test=_scale_pixels(test_images),
        y_test=test_labels.astype(np.int64),
    )


def _scale_pixels(images: np.ndarray) -> np.ndarray:
    pixels = images.reshape(len(images), -1).astype(np.float32)
    pixels /= 255.0
    return pixels


def _read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read a gzipped IDX file of unsigned bytes with ``ndim`` dimensions."""
    try:
        with gzip.open(path, "rb") as handle:
            raw = handle.read()
    except (OSError, EOFError) as error:
        raise DataError(f"Cannot read '{path}': {one_line(error)}") from error
    header_size = 4 + 4 * ndim
    magic = int.from_bytes(raw[:4], "big")
    if len(raw) < header_size or magic != 0x0800 + ndim:
        raise DataError(
            f"'{path.name}' has magic number {magic:#010x}, expected {0x0800 + ndim:#010x} "
            f"(IDX, unsigned bytes, {ndim}-d); the file is corrupt or not MNIST."
        )
    shape = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    if len(raw) - header_size != int(np.prod(shape)):
        raise DataError(
            f"'{path.name}' is truncated or corrupt: its header announces shape {shape} but it "
            f"holds {len(raw) - header_size} values."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(shape)


def _fetch(url: str, destination: Path) -> None:
    """Copy ``url`` into ``destination`` (http(s) and file URLs)."""
    with urllib.request.urlopen(url, timeout=60) as response, destination.open("wb") as out:
        shutil.copyfileobj(response, out)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download(name: str, folder: Path) -> None:
    """Download one MNIST file into ``folder``, trying each mirror; keep it only if verified."""
    expected = _MNIST_SHA256[name]
    failures = []
    for mirror in _MNIST_MIRRORS:
        url = mirror + name
        handle, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=folder)
        os.close(handle)
        part = Path(temporary)
        try:
            _fetch(url, part)
            actual = _sha256(part)
            if actual == expected:
                os.replace(part, folder / name)
                return
            failures.append(f"{url}: SHA-256 mismatch (got {actual}, expected {expected})")
        except (OSError, http.client.HTTPException) as error:
            failures.append(f"{url}: {one_line(error)}")
        finally:
            part.unlink(missing_ok=True)
    raise DataError(
        f"Could not download MNIST file {name}: {'; '.join(failures)}. Put the file in "
        f"'{folder}' yourself or give its folder (--mnist-dir DIR; Python: mnist_dir=)."
    )
