"""Readers for the ADBench text inputs (formats as in the data directory's README.md).

Every reader takes a path and returns a small dataclass of float64 / int64 NumPy arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class GMMInput:
    alphas: np.ndarray   # (K,)
    means: np.ndarray    # (K, D)
    icf: np.ndarray      # (K, D(D+1)/2): D log-diagonal entries, then the strictly lower part
    x: np.ndarray        # (N, D)
    gamma: float         # Wishart prior
    m: int

    @property
    def shape(self) -> tuple[int, int, int]:
        """(D, K, N)"""
        return self.means.shape[1], self.means.shape[0], self.x.shape[0]


@dataclass
class BAInput:
    cams: np.ndarray     # (n, 11): rotation (angle-axis) 3, centre 3, focal 1, principal 2,
    points: np.ndarray   # (m, 3)   radial distortion 2
    weights: np.ndarray  # (p,)
    features: np.ndarray  # (p, 2)
    obs: np.ndarray      # (p, 2) int64: camera index, point index of each observation


@dataclass
class LSTMInput:
    main_params: np.ndarray   # (2l, 4b): rows 2i (weights) and 2i+1 (biases) of layer i
    extra_params: np.ndarray  # (3, b): input weight, output weight, output bias
    state: np.ndarray         # (2l, b): rows 2i (hidden) and 2i+1 (cell) of layer i
    sequence: np.ndarray      # (c, b)

    @property
    def shape(self) -> tuple[int, int, int]:
        """(l, c, b)"""
        return self.main_params.shape[0] // 2, self.sequence.shape[0], self.sequence.shape[1]


def _numbers(path) -> list[str]:
    return Path(path).read_text().split()


def read_gmm(path) -> GMMInput:
    tokens = _numbers(path)
    d, k, n = (int(t) for t in tokens[:3])
    icf_size = d * (d + 1) // 2
    pos = 3

    def take(count):
        nonlocal pos
        out = np.array(tokens[pos:pos + count], dtype=np.float64)
        if out.size != count:
            raise ValueError(f"{path}: truncated GMM input")
        pos += count
        return out

    alphas = take(k)
    means = take(k * d).reshape(k, d)
    icf = take(k * icf_size).reshape(k, icf_size)
    x = take(n * d).reshape(n, d)
    gamma = float(tokens[pos])
    m = int(float(tokens[pos + 1]))
    return GMMInput(alphas, means, icf, x, gamma, m)


def read_ba(path) -> BAInput:
    """One camera, point, weight and feature in the file, replicated as ADBench does:
    observation j uses camera j mod n and point j mod m."""
    tokens = _numbers(path)
    n, m, p = (int(t) for t in tokens[:3])
    values = np.array(tokens[3:3 + 17], dtype=np.float64)
    if values.size != 17:
        raise ValueError(f"{path}: truncated BA input")
    cam, point, weight, feature = values[:11], values[11:14], values[14], values[15:17]
    j = np.arange(p, dtype=np.int64)
    return BAInput(
        cams=np.tile(cam, (n, 1)),
        points=np.tile(point, (m, 1)),
        weights=np.full(p, weight),
        features=np.tile(feature, (p, 1)),
        obs=np.stack([j % n, j % m], axis=1),
    )


def read_lstm(path) -> LSTMInput:
    lines = Path(path).read_text().splitlines()
    l, c, b = (int(t) for t in lines[0].split())
    sections: list[list[list[float]]] = []
    current: list[list[float]] = []
    for line in lines[1:]:
        if line.strip():
            current.append([float(t) for t in line.split()])
        elif current:
            sections.append(current)
            current = []
    if current:
        sections.append(current)
    if len(sections) != 4:
        raise ValueError(f"{path}: expected 4 blank-line separated sections, got "
                         f"{len(sections)}")
    main, extra, state, seq = (np.array(s, dtype=np.float64) for s in sections)
    expected = {"main": (2 * l, 4 * b), "extra": (3, b), "state": (2 * l, b), "seq": (c, b)}
    for name, arr in zip(expected, (main, extra, state, seq)):
        if arr.shape != expected[name]:
            raise ValueError(f"{path}: {name} section has shape {arr.shape}, expected "
                             f"{expected[name]}")
    return LSTMInput(main, extra, state, seq)
