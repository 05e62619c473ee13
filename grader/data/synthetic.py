"""A deterministic, learnable stand-in for CIFAR-10, written as CIFAR-10 python batches.

The real set cannot be downloaded here, so tests and the default run use this. Each class
has a smooth colour template; an image is its class template at a random contrast and
offset, plus a smooth distractor of random class-free structure and pixel noise, so a
linear model learns part of it, a tuned two-layer network more, and an untuned one
(the handout's default learning rate) little. Thresholds on it are calibrated separately
(rubric.toml, datasets.synthetic) and reported as synthetic, never as CIFAR-10.
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from .cifar import FOLDER, META_FILE, SYNTHETIC_MARK, TEST_FILE, TRAIN_FILES

GENERATOR_VERSION = 3
LABEL_NOISE = 0.1
LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse",
               "ship", "truck"]


def _smooth_fields(rng: np.random.RandomState, count: int, cells: int) -> np.ndarray:
    """count random smooth 32 x 32 x 3 fields (values about N(0, 1)), float32."""
    coarse = rng.randn(count, cells, cells, 3).astype(np.float32)
    reps = -(-32 // cells)
    fine = coarse.repeat(reps, axis=1).repeat(reps, axis=2)[:, :32, :32]
    # a 3 x 3 box blur twice softens the blocks into blobs
    for _ in range(2):
        padded = np.pad(fine, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        fine = sum(padded[:, i:i + 32, j:j + 32] for i in range(3) for j in range(3)) / 9
    return fine / fine.std(axis=(1, 2, 3), keepdims=True)


def images(rng: np.random.RandomState, templates: np.ndarray, labels: np.ndarray,
           chunk: int = 1000) -> np.ndarray:
    """uint8 images (N, 32, 32, 3) of the given labels."""
    out = np.empty((len(labels), 32, 32, 3), dtype=np.uint8)
    for start in range(0, len(labels), chunk):
        lab = labels[start:start + chunk]
        n = len(lab)
        contrast = rng.uniform(0.4, 1.2, size=(n, 1, 1, 1)).astype(np.float32)
        offset = rng.uniform(-30, 30, size=(n, 1, 1, 3)).astype(np.float32)
        distractor = _smooth_fields(rng, n, 4) + 0.7 * _smooth_fields(rng, n, 8)
        noise = rng.randn(n, 32, 32, 3).astype(np.float32)
        img = 128 + offset + 8 * contrast * templates[lab] + 45 * distractor + 30 * noise
        out[start:start + n] = np.clip(img, 0, 255).astype(np.uint8)
    return out


def _write_batch(path: Path, imgs: np.ndarray, labels: np.ndarray, name: str) -> None:
    chw = imgs.transpose(0, 3, 1, 2).reshape(len(imgs), 3072)  # CIFAR's R, G, B planes
    batch = {"batch_label": name, "labels": [int(v) for v in labels], "data": chw,
             "filenames": [f"synthetic_{name}_{i:05d}.png" for i in range(len(labels))]}
    with open(path, "wb") as fh:
        pickle.dump(batch, fh, protocol=4)  # protocol 2 would inflate the bytes ~1.5x


def generate(dest: Path, rows_per_batch: int, seed: int) -> Path:
    """Writes dest/cifar-10-batches-py (5 training batches, a test batch, batches.meta).

    Deterministic in (rows_per_batch, seed); returns the folder.
    """
    root = Path(dest) / FOLDER
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.RandomState(seed)
    templates = _smooth_fields(rng, len(LABEL_NAMES), 8)
    for name in (*TRAIN_FILES, TEST_FILE):
        labels = rng.randint(0, len(LABEL_NAMES), size=rows_per_batch)
        imgs = images(rng, templates, labels)
        # one label in ten replaced at random: no model can be perfect
        flip = rng.rand(rows_per_batch) < LABEL_NOISE
        labels = np.where(flip, rng.randint(0, len(LABEL_NAMES), size=rows_per_batch), labels)
        _write_batch(root / name, imgs, labels, name)
    meta = {"num_cases_per_batch": rows_per_batch, "label_names": LABEL_NAMES, "num_vis": 3072,
            SYNTHETIC_MARK: {"version": GENERATOR_VERSION, "seed": seed,
                             "rows_per_batch": rows_per_batch}}
    with open(root / META_FILE, "wb") as fh:
        pickle.dump(meta, fh, protocol=4)
    return root
