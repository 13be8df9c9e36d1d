"""ADBench bundle adjustment: reprojection residuals and their sparse Jacobian.

A camera has 11 parameters: rotation as an angle-axis vector (0:3), centre (3:6), focal length
(6), principal point (7:9), radial distortion k1, k2 (9:11). Observation j sees point obs[j, 1]
from camera obs[j, 0] at image feature feats[j] with weight w[j]:

    X_cam = R(rot) (X - C)         Rodrigues' formula; first order X + rot x X when |rot| = 0
    p = X_cam[:2] / X_cam[2]       perspective division
    p = p (1 + k1 r^2 + k2 r^4)    radial distortion, r^2 = |p|^2
    proj = f p + x0
    reproj_err[j] = w[j] (proj - feats[j])          (2 residuals)
    w_err[j] = 1 - w[j]^2                           (1 residual)

The Jacobian is sparse: 2p + p rows, 11n + 3m + p columns; each observation has a 2 x 15 block
(camera 11, point 3, weight 1) and each weight error one entry, -2 w[j].

Loop-level functions (what autodiff_compiler differentiates):
* `ba_observation(cam, x, w, feat)` - the 2 residuals of one observation (an array of 2), whose
  jacrev is the 2 x 15 block;
* `ba_objective(cams, x, w, feats, obs, reproj_err, w_err)` - ADBench's objective over all
  observations, writing into the output arrays (what the Numba primal is timed on);
* `ba_residuals_gathered(obs_cams, obs_points, w, feats)` - the same residuals with the camera
  and point of each observation gathered into per-observation rows; observations are then
  independent, so one seeded adjoint sweep with cotangent e_r on row r of every observation
  gives row r of every 2 x 15 block at once (`ba_block_vjp` is that sweep written as a scalar
  function, differentiated with grad; `BAJacobian` drives it, `blocks_by_vjp` does the same
  with autodiff_compiler.vjp);
* `ba_weight_error_sum(w)` - sum_j (1 - w[j]^2), whose gradient is the weight errors'
  (diagonal) Jacobian.
`ba_residuals_numpy` is an independent vectorised implementation to check values.
"""

from __future__ import annotations

import math

import numpy as np

N_CAM = 11
ROT, CENTRE, FOCAL, X0, RAD = 0, 3, 6, 7, 9
BLOCK = N_CAM + 3 + 1


# --- loop-level functions ---------------------------------------------------------------------

def rodrigues_rotate_point(r0, r1, r2, x0, x1, x2):
    """Rotate (x0, x1, x2) by the angle-axis vector (r0, r1, r2)."""
    sqtheta = r0 * r0 + r1 * r1 + r2 * r2
    if sqtheta != 0.0:
        theta = math.sqrt(sqtheta)
        costheta = math.cos(theta)
        sintheta = math.sin(theta)
        theta_inverse = 1.0 / theta
        w0 = r0 * theta_inverse
        w1 = r1 * theta_inverse
        w2 = r2 * theta_inverse
        c0 = w1 * x2 - w2 * x1      # w x X
        c1 = w2 * x0 - w0 * x2
        c2 = w0 * x1 - w1 * x0
        tmp = (w0 * x0 + w1 * x1 + w2 * x2) * (1.0 - costheta)
        y0 = x0 * costheta + c0 * sintheta + w0 * tmp
        y1 = x1 * costheta + c1 * sintheta + w1 * tmp
        y2 = x2 * costheta + c2 * sintheta + w2 * tmp
    else:
        y0 = x0 + (r1 * x2 - r2 * x1)
        y1 = x1 + (r2 * x0 - r0 * x2)
        y2 = x2 + (r0 * x1 - r1 * x0)
    return y0, y1, y2


def project(cams, c, points, q):
    """Image coordinates of point q (a row of points) seen by camera c (a row of cams)."""
    rx, ry, rz = rodrigues_rotate_point(
        cams[c, ROT], cams[c, ROT + 1], cams[c, ROT + 2],
        points[q, 0] - cams[c, CENTRE], points[q, 1] - cams[c, CENTRE + 1],
        points[q, 2] - cams[c, CENTRE + 2])
    px = rx / rz
    py = ry / rz
    rsq = px * px + py * py
    distortion = 1.0 + cams[c, RAD] * rsq + cams[c, RAD + 1] * rsq * rsq
    u = px * distortion * cams[c, FOCAL] + cams[c, X0]
    v = py * distortion * cams[c, FOCAL] + cams[c, X0 + 1]
    return u, v


def ba_observation(cam, x, w, feat):
    """The reprojection residual of one observation: cam (1, 11), x (1, 3), feat (2,)."""
    err = np.zeros(2)
    u, v = project(cam, 0, x, 0)
    err[0] = w * (u - feat[0])
    err[1] = w * (v - feat[1])
    return err


def ba_objective(cams, x, w, feats, obs, reproj_err, w_err):
    """ADBench's BA objective: writes reproj_err (p, 2) and w_err (p,)."""
    p = obs.shape[0]
    for j in range(p):
        u, v = project(cams, obs[j, 0], x, obs[j, 1])
        reproj_err[j, 0] = w[j] * (u - feats[j, 0])
        reproj_err[j, 1] = w[j] * (v - feats[j, 1])
        w_err[j] = 1.0 - w[j] * w[j]


def ba_residuals_gathered(obs_cams, obs_points, w, feats):
    """(p, 2) reprojection residuals, observation j from camera row j and point row j."""
    p = w.shape[0]
    err = np.zeros((p, 2))
    for j in range(p):
        u, v = project(obs_cams, j, obs_points, j)
        err[j, 0] = w[j] * (u - feats[j, 0])
        err[j, 1] = w[j] * (v - feats[j, 1])
    return err


def ba_weight_error_sum(w):
    """sum_j (1 - w[j]^2): w_err is diagonal in w, so this gradient is its Jacobian's
    diagonal."""
    total = 0.0
    for j in range(w.shape[0]):
        total += 1.0 - w[j] * w[j]
    return total


def ba_block_vjp(obs_cams, obs_points, w, feats, cotangent):
    """sum_j cotangent[j] . residual_j: its gradient w.r.t. (obs_cams, obs_points, w) is the
    vector-Jacobian product of ba_residuals_gathered with `cotangent` (p, 2)."""
    p = w.shape[0]
    total = 0.0
    for j in range(p):
        u, v = project(obs_cams, j, obs_points, j)
        total += cotangent[j, 0] * w[j] * (u - feats[j, 0])
        total += cotangent[j, 1] * w[j] * (v - feats[j, 1])
    return total


# --- assembling the sparse Jacobian -----------------------------------------------------------

def gather(inp) -> tuple[np.ndarray, np.ndarray]:
    """(obs_cams, obs_points): the camera and point rows of every observation."""
    return inp.cams[inp.obs[:, 0]], inp.points[inp.obs[:, 1]]


def sparsity(inp) -> tuple[np.ndarray, np.ndarray, tuple[int, int]]:
    """(rows, cols, shape) of the ADBench BA Jacobian in COO form; it depends on the
    observation list only, so it is computed once. Entries are ordered as in `coo_values`.

    Rows: 2j, 2j+1 for observation j, then 2p + j for weight error j. Columns: camera c at
    11c..11c+10, point q at 11n + 3q.., weight j at 11n + 3m + j."""
    n, m, p = inp.cams.shape[0], inp.points.shape[0], inp.weights.shape[0]
    j = np.arange(p)
    cam_cols = N_CAM * inp.obs[:, 0, None] + np.arange(N_CAM)
    pt_cols = N_CAM * n + 3 * inp.obs[:, 1, None] + np.arange(3)
    w_cols = (N_CAM * n + 3 * m + j)[:, None]
    cols = np.concatenate([cam_cols, pt_cols, w_cols], axis=1)         # (p, 15)
    block_rows = np.stack([2 * j, 2 * j + 1], axis=1)[:, :, None]      # (p, 2, 1)
    rows = np.broadcast_to(block_rows, (p, 2, BLOCK)).ravel()
    cols2 = np.broadcast_to(cols[:, None, :], (p, 2, BLOCK)).ravel()
    rows = np.concatenate([rows, 2 * p + j])
    cols2 = np.concatenate([cols2, N_CAM * n + 3 * m + j])
    return rows, cols2, (3 * p, N_CAM * n + 3 * m + p)


def coo_values(blocks: np.ndarray, w_err_diag: np.ndarray) -> np.ndarray:
    """The values for `sparsity`'s (rows, cols): the (p, 2, 15) blocks, then the p weight
    error derivatives."""
    return np.concatenate([blocks.ravel(), w_err_diag])


def dense_from_coo(rows, cols, vals, shape) -> np.ndarray:
    out = np.zeros(shape)
    np.add.at(out, (rows, cols), vals)
    return out


# --- an independent vectorised NumPy implementation ------------------------------------------

def ba_residuals_numpy(cams, x, w, feats, obs) -> tuple[np.ndarray, np.ndarray]:
    cam = cams[obs[:, 0]]
    pt = x[obs[:, 1]] - cam[:, CENTRE:CENTRE + 3]
    rot = cam[:, ROT:ROT + 3]
    theta = np.linalg.norm(rot, axis=1, keepdims=True)
    small = theta[:, 0] == 0.0
    safe = np.where(theta == 0.0, 1.0, theta)
    axis = rot / safe
    cos, sin = np.cos(theta), np.sin(theta)
    rotated = (pt * cos + np.cross(axis, pt) * sin
               + axis * np.sum(axis * pt, axis=1, keepdims=True) * (1.0 - cos))
    rotated[small] = pt[small] + np.cross(rot[small], pt[small])
    proj = rotated[:, :2] / rotated[:, 2:3]
    rsq = np.sum(proj * proj, axis=1, keepdims=True)
    proj = proj * (1.0 + cam[:, RAD:RAD + 1] * rsq + cam[:, RAD + 1:RAD + 2] * rsq * rsq)
    proj = proj * cam[:, FOCAL:FOCAL + 1] + cam[:, X0:X0 + 2]
    return w[:, None] * (proj - feats), 1.0 - w * w


# --- the Jacobian by autodiff_compiler --------------------------------------------------------

class BAJacobian:
    """The sparse BA Jacobian by two seeded adjoint sweeps (grad of ba_block_vjp with the
    cotangent selecting residual 0, then residual 1, of every observation) plus the gradient
    of ba_weight_error_sum for the weight errors. Calling it returns the COO values for
    `self.rows`, `self.cols` (the pattern, computed once)."""

    def __init__(self, inp, jit: bool = True):
        from autodiff_compiler import grad

        self.inp = inp
        p = inp.weights.shape[0]
        self.rows, self.cols, self.shape = sparsity(inp)
        self.cotangents = []
        for r in range(2):
            cot = np.zeros((p, 2))
            cot[:, r] = 1.0
            self.cotangents.append(cot)
        self.block_grad = grad(ba_block_vjp, argnums=(0, 1, 2), jit=jit)
        self.weight_grad = grad(ba_weight_error_sum, jit=jit)
        self._gathered = None

    def blocks(self, cams, points, weights, out=None) -> np.ndarray:
        """(p, 2, 15) blocks d reproj_err[j] / d (camera, point, weight of observation j)."""
        inp = self.inp
        p = weights.shape[0]
        if self._gathered is None:
            self._gathered = (np.empty((p, N_CAM)), np.empty((p, 3)))
        obs_cams, obs_points = self._gathered
        np.take(cams, inp.obs[:, 0], axis=0, out=obs_cams)
        np.take(points, inp.obs[:, 1], axis=0, out=obs_points)
        out = np.empty((p, 2, BLOCK)) if out is None else out
        for r, cot in enumerate(self.cotangents):
            g_cam, g_pt, g_w = self.block_grad(obs_cams, obs_points, weights, inp.features, cot)
            out[:, r, :N_CAM] = g_cam
            out[:, r, N_CAM:N_CAM + 3] = g_pt
            out[:, r, N_CAM + 3] = g_w
        return out

    def __call__(self, cams=None, points=None, weights=None, out=None) -> np.ndarray:
        """The COO values, written into `out` (a buffer of len(self.rows)) when given."""
        inp = self.inp
        cams = inp.cams if cams is None else cams
        points = inp.points if points is None else points
        weights = inp.weights if weights is None else weights
        p = weights.shape[0]
        out = np.empty(self.rows.shape[0]) if out is None else out
        self.blocks(cams, points, weights, out=out[:2 * BLOCK * p].reshape(p, 2, BLOCK))
        out[2 * BLOCK * p:] = self.weight_grad(weights)
        return out


def blocks_by_jacrev(inp, jit: bool = False) -> np.ndarray:
    """(p, 2, 15) blocks by jacrev of ba_observation, one observation at a time (slow: one
    Python-level call per observation; for small inputs)."""
    from autodiff_compiler import jacrev

    jac = jacrev(ba_observation, argnums=(0, 1, 2), jit=jit)
    p = inp.weights.shape[0]
    out = np.empty((p, 2, BLOCK))
    for j in range(p):
        c, q = inp.obs[j]
        d_cam, d_pt, d_w = jac(inp.cams[c:c + 1], inp.points[q:q + 1], float(inp.weights[j]),
                               inp.features[j])
        out[j, :, :N_CAM] = d_cam[:, 0, :]
        out[j, :, N_CAM:N_CAM + 3] = d_pt[:, 0, :]
        out[j, :, N_CAM + 3] = d_w
    return out


def blocks_by_vjp(inp, jit: bool = True) -> np.ndarray:
    """(p, 2, 15) blocks by autodiff_compiler.vjp of ba_residuals_gathered: one pullback per
    residual row, each with the cotangent selecting that row of every observation."""
    from autodiff_compiler import vjp

    obs_cams, obs_points = gather(inp)
    p = inp.weights.shape[0]
    _, pullback = vjp(ba_residuals_gathered, obs_cams, obs_points, inp.weights, inp.features,
                      jit=jit)
    out = np.empty((p, 2, BLOCK))
    for r in range(2):
        cot = np.zeros((p, 2))
        cot[:, r] = 1.0
        g_cam, g_pt, g_w, _ = pullback(cot)
        out[:, r, :N_CAM] = g_cam
        out[:, r, N_CAM:N_CAM + 3] = g_pt
        out[:, r, N_CAM + 3] = g_w
    return out


def block_numerical(inp, j: int) -> np.ndarray:
    """The 2 x 15 block of observation j by fourth-order central differences."""
    from . import central_difference

    c, q = inp.obs[j]
    args = [inp.cams[c:c + 1].copy(), inp.points[q:q + 1].copy(),
            np.array([inp.weights[j]]), inp.features[j].copy()]
    out = np.empty((2, BLOCK))
    for r in range(2):
        def residual(cam, x, w, feat, r=r):
            return ba_observation(cam, x, float(w[0]), feat)[r]

        columns = [(0, (0, i)) for i in range(N_CAM)] + [(1, (0, i)) for i in range(3)]
        columns.append((2, (0,)))
        for col, (k, index) in enumerate(columns):
            out[r, col] = central_difference(residual, args, k, index)
    return out
