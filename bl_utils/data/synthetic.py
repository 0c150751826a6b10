"""A synthetic, ultrasound-like stand-in for BUSI, written in BUSI's own file layout.

The report runs out of the box without the real data (which must be downloaded by hand): this
module writes a small deterministic dataset that :func:`bl_utils.data.busi.load_busi` reads exactly
like BUSI::

    <root>/Dataset_BUSI_with_GT/benign/benign (1).png, benign (1)_mask.png[, benign (1)_mask_1.png]
    <root>/Dataset_BUSI_with_GT/malignant/...
    <root>/Dataset_BUSI_with_GT/normal/normal (1).png, normal (1)_mask.png (all black)

It is NOT BUSI and no number computed on it is the paper's; every notebook prints
:attr:`bl_utils.data.source.DataSource.description`, which says so loudly.

How an image is made (B-mode-like, greyscale, sizes of about 300–650 pixels, like BUSI's):

* tissue: layers with wavy boundaries (bright skin line, darker subcutaneous fat with
  hypoechoic fat lobules — distractors darker than the tissue but lighter than lesions —,
  brighter striated glandular tissue, chest wall), smooth random echogenicity;
* lesions (benign and malignant): hypoechoic (25–45 % of the surrounding brightness) with a
  blurred-but-visible border; shapes from a radial Fourier series: benign oval, wider than tall,
  gently lobulated; malignant irregular, lobulated to spiculated, often with posterior acoustic
  shadowing (benign ones sometimes with posterior enhancement); about 1 in 15 lesion images has a
  second, smaller lesion stored as ``_mask_1.png`` (BUSI's convention);
* depth attenuation (exponential in depth), then multiplicative speckle (Rayleigh amplitude,
  slightly correlated) and log-like compression to 8 bits;
* tumour surface fractions drawn log-normally so that most lesions cover less than 5 % of the
  image, as in BUSI (the 5 % rule then keeps about 70 % of lesion images plus every normal one);
* duplicates like BUSI's: malignant (7) is a byte-identical copy of benign (13) (another label),
  and every 10th benign image is a second frame of the scene before it (same anatomy and
  lesion, new speckle): :func:`bl_utils.data.duplicates.find_duplicates` should find these pairs;
* stored like BUSI: images as 8-bit grey, some as RGB with yellow calliper marks (a colour
  overlay); masks 1-bit, second masks RGBA 0/255, normal masks RGB all zero.

Each image depends only on ``(seed, class, number)``, so the output is byte-identical for the same
seed, and ``n_benign=5`` writes the first five of the default set.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

__all__ = ["write_synthetic_busi", "ensure_synthetic_busi", "synthetic_case", "DEFAULT_SEED",
           "DEFAULT_COUNTS", "GENERATOR_VERSION", "EXACT_DUPLICATES", "NEAR_DUPLICATE_EVERY"]

#: The built-in dataset: seed and images per class (≈130 of 180 pass the 5 % rule).
DEFAULT_SEED = 0
DEFAULT_COUNTS = {"benign": 100, "malignant": 50, "normal": 30}
#: Bump when the images change, so that a stale ``data/synthetic_busi`` is rewritten.
GENERATOR_VERSION = 3
#: Like BUSI's benign (433) = malignant (145): the same file stored under two labels.
EXACT_DUPLICATES = {("malignant", 7): ("benign", 13)}
#: Every 10th benign image is another frame of the scene before it (new speckle), a near-duplicate.
NEAR_DUPLICATE_EVERY = 10
_CLASS_CODE = {"benign": 1, "malignant": 2, "normal": 3}
_MARKER = "synthetic_busi.json"


# --------------------------------------------------------------------------------------------
# Random fields


def _upsample(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resampling of a coarse grid onto ``shape`` (the grid spans the whole image)."""
    out = small
    for axis, n in enumerate(shape):
        pos = np.linspace(0, small.shape[axis] - 1, n)
        lo = np.minimum(pos.astype(int), small.shape[axis] - 2)
        frac = pos - lo
        if axis == 0:
            out = out[lo] * (1 - frac)[:, None] + out[lo + 1] * frac[:, None]
        else:
            out = out[:, lo] * (1 - frac) + out[:, lo + 1] * frac
    return out


def _field(rng: np.random.Generator, shape: tuple[int, int], scale: tuple[float, float]) -> np.ndarray:
    """Smooth zero-mean unit-variance random field with correlation lengths ``scale`` (rows, cols) px."""
    h, w = shape
    step = max(2.0, min(scale) / 2)
    small = rng.standard_normal((int(h / step) + 4, int(w / step) + 4))
    small = ndimage.gaussian_filter(small, (scale[0] / step / 2, scale[1] / step / 2), mode="wrap")
    small = (small - small.mean()) / (small.std() + 1e-12)
    return _upsample(small, shape)


def _curve(rng: np.random.Generator, n: int, amplitude: float, scale: float) -> np.ndarray:
    """A smooth random 1-D curve of length ``n``, std ``amplitude``, correlation ``scale`` px."""
    small = ndimage.gaussian_filter1d(rng.standard_normal(int(n / 8) + 4), scale / 16, mode="wrap")
    small = (small - small.mean()) / (small.std() + 1e-12)
    return amplitude * np.interp(np.linspace(0, len(small) - 1, n), np.arange(len(small)), small)


# --------------------------------------------------------------------------------------------
# Lesions


def _lesion_mask(rng: np.random.Generator, shape: tuple[int, int], area: float, malignant: bool,
                 centre_depth: tuple[float, float] = (0.3, 0.62)) -> np.ndarray:
    """``bool (H, W)``: a lobulated (benign) or irregular/spiculated (malignant) blob of ~``area`` px."""
    h, w = shape
    if malignant:
        aspect = rng.uniform(0.85, 1.4)                   # wider than tall, or taller
        harmonics = np.arange(2, 15)
        amps = rng.uniform(0.03, 0.09) * rng.uniform(0.4, 1.0, harmonics.size) * (harmonics / 2.0) ** -0.6
    else:
        aspect = rng.uniform(1.25, 2.0)                   # oval, parallel to the skin
        harmonics = np.arange(2, 7)
        amps = rng.uniform(0.02, 0.07) * rng.uniform(0.3, 1.0, harmonics.size) * (harmonics / 2.0) ** -1.2
    phases = rng.uniform(0, 2 * np.pi, harmonics.size)
    growth = 1 + 0.5 * np.sum(amps ** 2)
    b = np.sqrt(area / (np.pi * aspect * growth))
    b = min(b, 0.3 * h)
    a = min(aspect * b, 0.42 * w)
    cy = rng.uniform(*centre_depth) * h
    cx = rng.uniform(0.25, 0.75) * w
    reach = 1 + np.sum(amps)
    cy = float(np.clip(cy, b * reach + 6, h - b * reach - 6))
    cx = float(np.clip(cx, a * reach + 6, w - a * reach - 6))
    r0, r1 = int(max(0, cy - b * reach - 2)), int(min(h, cy + b * reach + 3))
    c0, c1 = int(max(0, cx - a * reach - 2)), int(min(w, cx + a * reach + 3))
    rows, cols = np.mgrid[r0:r1, c0:c1]
    dy, dx = (rows - cy) / b, (cols - cx) / a
    theta = np.arctan2(dy, dx)
    radius = 1 + np.sum(amps[:, None, None] * np.cos(harmonics[:, None, None] * theta + phases[:, None, None]), axis=0)
    mask = np.zeros(shape, dtype=bool)
    mask[r0:r1, c0:c1] = np.hypot(dy, dx) <= radius
    return mask


def _target_fraction(rng: np.random.Generator, malignant: bool) -> float:
    """Tumour surface fraction, log-normal: most below 5 %, a tail up to ~25 % (as in BUSI)."""
    median, spread = (0.046, 0.75) if malignant else (0.030, 0.85)
    return float(np.clip(median * np.exp(spread * rng.standard_normal()), 0.003, 0.25))


# --------------------------------------------------------------------------------------------
# One case


def synthetic_case(label: str, number: int, seed: int = DEFAULT_SEED) -> tuple[np.ndarray, list[np.ndarray], bool]:
    """One synthetic image and its lesion masks, determined by ``(seed, label, number)``.

    Returns ``(image uint8 (H, W), masks [bool (H, W), ...], colour)``: ``masks`` is empty for a
    normal image, has one entry per lesion otherwise; ``colour`` says whether the image is stored
    with a colour overlay. Raises ``ValueError`` for a label other than benign/malignant/normal.
    """
    if label not in _CLASS_CODE:
        raise ValueError(f"label must be one of {sorted(_CLASS_CODE)}, got {label!r}")
    if (label, number) in EXACT_DUPLICATES:
        return synthetic_case(*EXACT_DUPLICATES[label, number], seed=seed)
    scene = (label, number - 1) if label == "benign" and number % NEAR_DUPLICATE_EVERY == 0 else (label, number)
    rng = np.random.default_rng([int(seed), _CLASS_CODE[scene[0]], int(scene[1])])          # the scene
    frame = np.random.default_rng([int(seed), _CLASS_CODE[label], int(number), 1])        # the frame
    h = int(rng.integers(300, 541))
    w = int(np.clip(h * rng.uniform(1.0, 1.4), 320, 660))
    echo = _tissue(rng, (h, w))
    _add_fat_lobules(rng, echo)
    masks = _add_lesions(rng, echo, label)
    image = _scan(rng, frame, echo, another_frame=scene != (label, number))
    colour = bool(frame.random() < 0.1) and label != "normal"
    return image, masks, colour


def _tissue(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """``float32 (H, W)`` echogenicity of the tissue layers, with wavy boundaries: bright skin line,
    subcutaneous fat, striated glandular tissue, chest wall with ribs."""
    h, w = shape
    f32 = np.float32
    depth = np.linspace(0, 1, h, dtype=f32)[:, None]

    def step(boundary, width=0.012):      # 0 above a wavy boundary, 1 below, a linear ramp between
        return np.clip((depth - boundary.astype(f32)[None, :]) / f32(4 * width) + f32(0.5), 0, 1)

    skin = 0.03 + _curve(rng, w, 0.005, 120)
    fat_end = rng.uniform(0.16, 0.3) + _curve(rng, w, 0.03, 160)
    gland_end = rng.uniform(0.68, 0.85) + _curve(rng, w, 0.04, 200)
    below_fat, below_gland = step(fat_end), step(gland_end)
    echo = f32(1.0) + f32(0.35 - 1.0) * step(skin, 0.006)              # bright skin line, then fat
    echo += f32(rng.uniform(0.7, 0.9) - 0.35) * below_fat               # glandular tissue
    echo += f32(0.3 - 0.8) * below_gland                                # chest wall
    texture = 0.25 * _field(rng, shape, (40, 70))                       # slow variations
    texture += 0.35 * _field(rng, shape, (4, 40)) * (below_fat - below_fat * below_gland)  # striations
    echo *= np.exp(texture.astype(f32))
    ribs = np.clip(np.sin(2 * np.pi * (depth - gland_end[None, :]) * rng.uniform(8, 14)), 0, 1)
    echo *= 1 + f32(0.8) * below_gland * ribs.astype(f32)
    return echo


def _add_fat_lobules(rng: np.random.Generator, echo: np.ndarray) -> None:
    """Darken ``echo`` in place with hypoechoic fat lobules in the subcutaneous layer: dark, but
    less than a lesion (distractors for the segmentation)."""
    h, w = echo.shape
    f32 = np.float32
    lobules = np.zeros((h, w), f32)
    for _ in range(int(rng.integers(3, 9))):
        ly, lx = rng.uniform(0.07, 0.3) * h, rng.uniform(0, w)
        ry, rx = rng.uniform(6, 16), rng.uniform(18, 55)
        r0, r1, c0, c1 = int(max(0, ly - ry)), int(min(h, ly + ry + 1)), int(max(0, lx - rx)), int(min(w, lx + rx + 1))
        rr, cc = np.mgrid[r0:r1, c0:c1]
        inside = ((rr - ly) / ry) ** 2 + ((cc - lx) / rx) ** 2 <= 1
        lobules[r0:r1, c0:c1] = np.maximum(lobules[r0:r1, c0:c1], inside * f32(rng.uniform(0.3, 0.55)))
    top_rows = int(0.4 * h)
    echo[:top_rows] *= 1 - ndimage.gaussian_filter(lobules[:top_rows], 3.0)


def _add_lesions(rng: np.random.Generator, echo: np.ndarray, label: str) -> list[np.ndarray]:
    """Draw the lesion(s) of a benign or malignant image into ``echo`` (in place) and return their
    masks: one, and about 1 time in 15 a second, smaller one that does not touch the first."""
    if label == "normal":
        return []
    h, w = shape = echo.shape
    malignant = label == "malignant"
    first = _lesion_mask(rng, shape, _target_fraction(rng, malignant) * h * w, malignant)
    masks = [first]
    if rng.random() < 1 / 15:      # a second, smaller lesion, not overlapping the first
        grown = ndimage.binary_dilation(first, iterations=8)
        for _ in range(10):
            second = _lesion_mask(rng, shape, rng.uniform(0.1, 0.35) * first.sum(), malignant)
            if not (grown & second).any():
                masks.append(second)
                break
    for mask in masks:
        _darken_lesion(rng, echo, mask, malignant)
    return masks


def _darken_lesion(rng: np.random.Generator, echo: np.ndarray, mask: np.ndarray, malignant: bool) -> None:
    """Replace ``echo`` (in place) inside ``mask`` by a dark lesion with a blurred border, and shade
    the tissue below it: acoustic shadowing (mostly malignant) or enhancement (some benign)."""
    h, w = echo.shape
    f32 = np.float32
    rows_in, cols_in = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    bottom = rows_in[-1]
    blur = rng.uniform(2.0, 4.0) if malignant else rng.uniform(1.0, 2.2)
    pad = int(4 * blur) + 2
    r0, r1 = max(0, rows_in[0] - pad), min(h, bottom + pad + 1)
    c0, c1 = max(0, cols_in[0] - pad), min(w, cols_in[-1] + pad + 1)
    soft = ndimage.gaussian_filter(mask[r0:r1, c0:c1].astype(f32), blur)
    level = rng.uniform(0.08, 0.22)                            # lesion echogenicity (tissue ~0.8)
    inner = level * np.exp(0.35 * _field(rng, soft.shape, (8, 8))).astype(f32)   # internal echoes
    window = echo[r0:r1, c0:c1]
    echo[r0:r1, c0:c1] = window * (1 - soft) + soft * inner
    # posterior shadowing (mostly malignant) or enhancement (some benign), under the lesion
    profile = ndimage.gaussian_filter1d(mask.any(axis=0).astype(f32), 6.0)[None, :]
    after = np.arange(h - bottom, dtype=f32)[:, None]
    below = np.clip(after / f32(0.03 * h), 0, 1) * np.exp(-after / f32(rng.uniform(0.3, 0.8) * h))
    if malignant and rng.random() < 0.6:
        echo[bottom:] *= 1 - f32(rng.uniform(0.3, 0.6)) * profile * below
    elif not malignant and rng.random() < 0.3:
        echo[bottom:] *= 1 + f32(rng.uniform(0.3, 0.6)) * profile * below


def _scan(rng: np.random.Generator, frame: np.random.Generator, echo: np.ndarray,
          another_frame: bool) -> np.ndarray:
    """The B-mode image ``uint8 (H, W)`` of ``echo``: depth attenuation, then speckle (the magnitude
    of a correlated complex Gaussian field: Rayleigh amplitude, grain of a few pixels; partly
    decorrelated for ``another_frame`` of the same scene), then log compression to 8 bits."""
    h, w = shape = echo.shape
    f32 = np.float32
    depth = np.linspace(0, 1, h, dtype=f32)[:, None]
    echo = np.clip(echo, 1e-3, None) * np.exp(-rng.uniform(1.6, 2.6) * depth).astype(f32)
    noise = rng.standard_normal((2, *shape), dtype=f32)
    if another_frame:    # another frame of the same scene: speckle partly decorrelated
        noise = f32(0.8) * noise + f32(0.6) * frame.standard_normal((2, *shape), dtype=f32)
    re = ndimage.gaussian_filter(noise[0], (1.0, 2.2))
    im = ndimage.gaussian_filter(noise[1], (1.0, 2.2))
    speckle = np.hypot(re, im)
    speckle /= np.sqrt(np.mean(speckle ** 2, dtype=np.float64)).astype(f32)
    signal = echo * speckle
    decibels = 20 * np.log10(signal / np.quantile(signal, 0.995).astype(f32) + f32(1e-6))
    dynamic_range = frame.uniform(38, 48)
    image = np.clip(255 * (1 + decibels / f32(dynamic_range)), 0, 255).astype(np.uint8)
    image[:, :3] = image[:, -3:] = 0            # thin black margins, as in cropped scanner frames
    return image


def _save(image: Image.Image, path: Path) -> None:
    image.save(path, format="PNG", optimize=False, compress_level=1)


def _calliper_overlay(image: np.ndarray, mask: np.ndarray) -> Image.Image:
    """RGB copy of ``image`` with yellow '+' marks at the lesion's left and right ends."""
    rgb = np.repeat(image[:, :, None], 3, axis=2)
    rows, cols = np.nonzero(mask)
    for k in (np.argmin(cols), np.argmax(cols)):
        r, c = rows[k], cols[k]
        for dr, dc in [(d, 0) for d in range(-4, 5)] + [(0, d) for d in range(-4, 5)]:
            rr, cc = np.clip(r + dr, 0, image.shape[0] - 1), np.clip(c + dc, 0, image.shape[1] - 1)
            rgb[rr, cc] = (255, 230, 0)
    return Image.fromarray(rgb, "RGB")


def write_synthetic_busi(root: str | os.PathLike, seed: int = DEFAULT_SEED, n_benign: int = 100,
                         n_malignant: int = 50, n_normal: int = 30, overwrite: bool = False) -> Path:
    """Write the synthetic dataset under ``root`` in BUSI's layout; return ``root/Dataset_BUSI_with_GT``.

    ``n_<class>`` images per class are numbered ``(1)..(n)``; image ``(k)`` of a class is the same
    whatever the counts, and the files are byte-identical for the same ``seed``. The default set
    (180 images) takes about 10 s on one CPU core and ~35 MB. Raises ``FileExistsError`` when
    ``root/Dataset_BUSI_with_GT`` already exists, unless ``overwrite``. Writes a small
    ``synthetic_busi.json`` (generator version, seed, counts) beside the layout folder.
    """
    root = Path(root)
    layout = root / "Dataset_BUSI_with_GT"
    if layout.exists():
        if not overwrite:
            raise FileExistsError(f"{layout} already exists; pass overwrite=True to replace it")
        shutil.rmtree(layout)
    counts = {"benign": n_benign, "malignant": n_malignant, "normal": n_normal}
    for label, n in counts.items():
        if n < 0:
            raise ValueError(f"n_{label} must be >= 0, got {n}")
        folder = layout / label
        folder.mkdir(parents=True, exist_ok=True)
        for number in range(1, n + 1):
            image, masks, colour = synthetic_case(label, number, seed)
            stem = f"{label} ({number})"
            _save(_calliper_overlay(image, masks[0]) if colour else Image.fromarray(image, "L"),
                  folder / f"{stem}.png")
            if not masks:        # normal: an all-black RGB mask, as in BUSI
                _save(Image.new("RGB", (image.shape[1], image.shape[0])), folder / f"{stem}_mask.png")
            for k, mask in enumerate(masks):
                name = f"{stem}_mask.png" if k == 0 else f"{stem}_mask_{k}.png"
                if k == 0:       # 1-bit, like most BUSI masks
                    stored = Image.fromarray(mask).convert("1")
                else:            # RGBA 0/255 with an opaque alpha, like BUSI's odd _mask_1 files
                    value = mask.astype(np.uint8) * 255
                    stored = Image.fromarray(np.dstack([value, value, value, np.full_like(value, 255)]), "RGBA")
                _save(stored, folder / name)
    marker = {"generator_version": GENERATOR_VERSION, "seed": int(seed), "counts": counts,
              "note": "SYNTHETIC ultrasound-like data written by bl_utils.data.synthetic; not BUSI."}
    (root / _MARKER).write_text(json.dumps(marker, indent=2) + "\n")
    return layout


def ensure_synthetic_busi(root: str | os.PathLike, seed: int = DEFAULT_SEED, counts: dict[str, int] | None = None,
                          verbose: bool = True) -> Path:
    """The default synthetic dataset at ``root`` (returns ``root/Dataset_BUSI_with_GT``), written once.

    Reused when ``root/synthetic_busi.json`` records the same generator version, seed and counts;
    otherwise generated into a temporary folder beside ``root`` and renamed onto it when complete,
    so an interrupted generation never looks complete.
    """
    root = Path(root)
    counts = dict(DEFAULT_COUNTS if counts is None else counts)
    wanted = {"generator_version": GENERATOR_VERSION, "seed": int(seed), "counts": counts}

    def complete() -> bool:
        try:
            found = json.loads((root / _MARKER).read_text())
        except (OSError, ValueError):
            return False
        return all(found.get(k) == v for k, v in wanted.items()) and (root / "Dataset_BUSI_with_GT").is_dir()

    if complete():
        return root / "Dataset_BUSI_with_GT"
    root.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".tmp", dir=root.parent))
    tmp.chmod(0o755)
    try:
        write_synthetic_busi(tmp, seed, counts["benign"], counts["malignant"], counts["normal"])
        if complete():           # another process finished first: keep its copy
            shutil.rmtree(tmp)
            return root / "Dataset_BUSI_with_GT"
        if root.exists():        # stale (other version/seed): move aside, then delete
            stale = root.parent / f".{root.name}.stale-{os.getpid()}"
            os.replace(root, stale)
            shutil.rmtree(stale, ignore_errors=True)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if verbose:
        print(f"wrote the synthetic dataset ({sum(counts.values())} images) to {root} "
              f"in {time.perf_counter() - start:.1f} s")
    return root / "Dataset_BUSI_with_GT"
