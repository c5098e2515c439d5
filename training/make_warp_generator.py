"""Makes the default landmarks2face generator, models/landmarks2face.onnx: a dense piecewise-affine
warp of the reference crop driven by the landmarks, with real mouth interiors (GRID s1, CC BY 4.0,
Cooke et al. 2006; training/l2f/exemplars.py) where the target's lips part more than the
reference's. No learned weights.

The graph (standard ONNX operators only, opset 17, so it runs on TensorRT, CUDA and CPU):

1. Control points: the 68 landmarks plus fixed anchors on and near the crop border (same place in
   reference and target), triangulated once: Delaunay on the mean face (models/mean_face.txt, which
   is also the crop frame: the crop puts the outer eye corners where the canonical frame does)
   outside the outer lip line, and the mouth by hand inside it (upper lip band, lower lip band,
   interior; see UPPER_LIP).
2. On a coarse G x G grid of target positions, each triangle's barycentric coordinates are computed
   in closed form; each grid point takes the triangle that contains it (largest minimum barycentric
   coordinate) and maps through that triangle's affine map to a reference position.
3. The coarse map is upsampled (bilinear) to S x S; in a box of whole pixels around the target's
   mouth the same map is computed exactly at every pixel for the mouth's triangles (mouth_box), so
   that a mouth closing over an open one keeps its lip line sharp; the reference is sampled there
   (GridSample).
4. Closing an open mouth (lips_inward): the lips' inner edges sample a little inside the reference's
   lips, and what is left of the interior samples the upper lip, so no teeth or cavity show.
5. Mouth interior: inside the target's inner-lip polygon (crossing-number test), where the target
   mouth is more open than the reference's. By default (exemplar_interior), in a box of pixels
   around the mouth: the bank's two opening levels around the target's opening, blended, sampled at
   each pixel's canonical (u, v) between the inner lip lines, colour-matched to the portrait's skin
   around the mouth, pasted into the crop. With --painted (the generator before issue 10), over the
   whole crop: a painted cavity (upper teeth below the upper lip, a dark, shaded cavity below, lower
   teeth at the bottom edge, all softened at the edges).
6. `mask`: where the face changed (displacement or interior), feathered, zero at the border, for
   pasting the crop back into the full portrait.

    python3 training/make_warp_generator.py [--size 256] [--grid 64] [--no-box] [--lip-in 0.3]
        [--bank ~/.cache/talkingface/l2f/exemplars.npz | --painted] [--out models/landmarks2face.onnx]

The bank is made by `training/run.sh warp` (which then runs this script) from realdata's cache.
"""
import argparse
import os
import pathlib

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from scipy.spatial import Delaunay

ROOT = pathlib.Path(__file__).resolve().parent.parent
MEAN = np.loadtxt(ROOT / "models" / "mean_face.txt", dtype=np.float64)

# The mouth interior bank made by training/l2f/exemplars.py (data: not in the repository).
BANK = pathlib.Path(os.environ.get("TALKINGFACE_CACHE", pathlib.Path.home() / ".cache" / "talkingface")) / "l2f" / "exemplars.npz"

# Crop frame: points 36 and 45 (outer eye corners) at these fractions of the crop.
CROP = "eyes:0.3,0.333333,0.7,0.333333"


def anchors():
    """Fixed control points: the crop border and a ring between it and the face."""
    pts = []
    for t in np.linspace(0.0, 1.0, 6):
        pts += [(t, 0.0), (t, 1.0)]
    for t in np.linspace(0.2, 0.8, 4):
        pts += [(0.0, t), (1.0, t)]
    return np.array(pts, dtype=np.float64)


# The mouth's own triangles, by hand: the upper lip's band between the outer (48-54) and inner
# (60-64) upper lip lines, the lower lip's between 54-59, 48 and 64-67, 60, and the interior between
# the inner lip lines. The mean face's mouth is closed (its inner lip pairs coincide), so a Delaunay
# triangulation there drops points 63, 66 and 67 as duplicates and joins upper-lip points to
# lower-lip ones across the mouth: opened in the reference, such a triangle spans lip and cavity,
# and closing the mouth then samples the cavity (teeth) into the lips.
UPPER_LIP = [(48, 49, 60), (49, 61, 60), (49, 50, 61), (50, 62, 61), (50, 51, 62), (51, 52, 62),
             (52, 63, 62), (52, 53, 63), (53, 64, 63), (53, 54, 64)]
LOWER_LIP = [(54, 55, 64), (55, 65, 64), (55, 56, 65), (56, 66, 65), (56, 57, 66), (57, 58, 66),
             (58, 67, 66), (58, 59, 67), (59, 60, 67), (59, 48, 60)]
INTERIOR = [(60, 61, 67), (61, 66, 67), (61, 62, 66), (62, 65, 66), (62, 63, 65), (63, 64, 65)]
OUTER_LIP = list(range(48, 60))


def _inside(poly, p):
    """Crossing-number test of point p in polygon poly [K, 2]."""
    c = False
    for a, b in zip(poly, np.roll(poly, -1, axis=0)):
        if (a[1] > p[1]) != (b[1] > p[1]) and p[0] < a[0] + (b[0] - a[0]) * (p[1] - a[1]) / (b[1] - a[1]):
            c = not c
    return c


N_ANCHORS = len(anchors())


def triangles():
    """Control points (68 landmarks, then the anchors) and triangles [T, 3]: Delaunay on the mean
    face without the inner lips, the triangles inside the outer lip line replaced by the mouth's own
    (UPPER_LIP, LOWER_LIP, INTERIOR). The topology stays fixed; checked to tile the hull."""
    verts = np.concatenate([MEAN, anchors()], axis=0)
    keep = np.array([i for i in range(len(verts)) if not 60 <= i < 68])
    tri = keep[Delaunay(verts[keep]).simplices]
    poly = MEAN[OUTER_LIP]
    tri = [t for t in tri if not _inside(poly, verts[t].mean(axis=0))]
    edges = {frozenset(e) for t in tri for e in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0]))}
    ring = {frozenset((a, b)) for a, b in zip(OUTER_LIP, OUTER_LIP[1:] + OUTER_LIP[:1])}
    assert ring <= edges, "the outer lip line is not a Delaunay edge path"
    tri = np.array([list(t) for t in tri] + UPPER_LIP + LOWER_LIP + INTERIOR, dtype=np.int64)
    # Tiling check on the mean face with the mouth opened (no degenerate mouth triangles there).
    v = verts.copy()
    v[[55, 56, 57, 58, 59, 65, 66, 67], 1] += 0.03
    area = lambda t: 0.5 * abs((v[t[1], 0] - v[t[0], 0]) * (v[t[2], 1] - v[t[0], 1])
                               - (v[t[1], 1] - v[t[0], 1]) * (v[t[2], 0] - v[t[0], 0]))
    from scipy.spatial import ConvexHull
    assert abs(sum(area(t) for t in tri) - ConvexHull(v).volume) < 1e-9, "mesh does not tile the hull"
    return verts, tri


# Exact mouth box: (width, height) as fractions of the crop, in whole pixels of it, centred on the
# target's 20 mouth points; the piecewise-affine map is evaluated at every pixel there.
BOX = (0.375, 0.3125)
# Its triangles: the mouth's own (UPPER_LIP, LOWER_LIP, INTERIOR), where the displacement jumps when a
# mouth closes; elsewhere in the box (and outside it) the coarse map stays.
BOX_FEATHER = 6  # pixels over which the exact map takes over from the coarse one at the box edge


def chosen_map(g, B, onehot, X, t):
    """Each point's chosen triangle's affine map applied to it: B [N, t, 2, 3] (the triangles'
    maps), onehot [N, t, P] (1 for the chosen triangle; ties share), X [3, P] or [N, 1, 3, P]
    (x, y, 1) -> [N, 2, P]. As matrix products (the maps weighted by the choice, then applied), which
    ONNX Runtime runs much faster than reducing over the triangle axis of [N, t, 2, P]."""
    bf = g.op("Reshape", [g.op("Transpose", [B], perm=[0, 2, 3, 1]), g.const(np.array([0, 6, t], np.int64))])
    m6 = g.op("MatMul", [bf, onehot])  # [N, 6, P]: sum of the chosen maps' coefficients
    cnt = g.op("MatMul", [g.const(np.ones((1, t), np.float32)), onehot])  # [N, 1, P]
    m = g.op("Reshape", [g.op("Div", [m6, cnt]), g.const(np.array([0, 2, 3, -1], np.int64))])  # [N, 2, 3, P]
    return g.op("ReduceSum", [g.op("Mul", [m, X]), g.const(np.array([2], np.int64))], keepdims=0)


def box_pixels(g, size, bw, bh):
    """A box of bw x bh whole crop pixels around the target's mouth (the centre of points 48-67):
    its origin org3 [N, 2, 1] (pixels; floor(centre * S - box / 2)) and its pixel centres xy
    [N, 2, bh * bw] in crop units."""
    mouth = g.op("Gather", ["target_landmarks", g.const(np.arange(48, 68, dtype=np.int64))], axis=1)
    centre = g.op("ReduceMean", [mouth], axes=[1], keepdims=0)  # [N, 2]
    org = g.op("Floor", [g.op("Sub", [g.op("Mul", [centre, g.const(np.float32(size))]),
                                      g.const(np.array([bw / 2, bh / 2], np.float32))])])
    org3 = g.op("Unsqueeze", [org, g.const(np.array([2], np.int64))])  # [N, 2, 1]
    def pixels():  # [1, 2, P], pixels
        jy, jx = np.meshgrid(np.arange(bh) + 0.5, np.arange(bw) + 0.5, indexing="ij")
        return np.stack([jx.reshape(-1), jy.reshape(-1)], 0)[None].astype(np.float32)
    J = g.shared_const(("box_pix", bw, bh), pixels, "box_pix")
    xy = g.op("Div", [g.op("Add", [org3, J]), g.const(np.float32(size))])  # [N, 2, P]
    return org3, xy


def paste_box(g, size, bw, bh, org3, t):
    """t [N, C, bh, bw] pasted into the crop at the box origin org3: [N, C, S, S], zeros outside
    (crop pixel i samples box pixel i - origin, nearest: exact at pixel centres)."""
    def pixels():  # [1, 2, S, S], pixels
        return np.stack(np.meshgrid(np.arange(size) + 0.5, np.arange(size) + 0.5, indexing="xy"), 0)[None].astype(np.float32)
    org4 = g.op("Unsqueeze", [org3, g.const(np.array([3], np.int64))])  # [N, 2, 1, 1]
    pix = g.shared_const(("crop_pix", size), pixels, "crop_pix")
    gp = g.op("Sub", [g.op("Mul", [g.op("Sub", [pix, org4]),
                                   g.const(np.array([2.0 / bw, 2.0 / bh], np.float32).reshape(1, 2, 1, 1))]),
                      g.const(np.float32(1.0))])
    gp = g.op("Transpose", [gp], perm=[0, 2, 3, 1])
    return g.op("GridSample", [t, gp], mode="nearest", padding_mode="zeros", align_corners=0)


def crossing_inside(g, edges, px, py):
    """1 inside the polygon whose edges run from (xi, yi) to (xj, yj) (each [N, K, 1]), else 0, at
    points (px, py) ([., 1, P]): crossing-number test -> [N, 1, P]."""
    xi, yi, xj, yj = edges
    above_i = g.op("Greater", [yi, py])
    above_j = g.op("Greater", [yj, py])
    straddle = g.op("Xor", [above_i, above_j])
    dy = g.op("Sub", [yj, yi])
    dy_safe = g.op("Where", [g.op("Greater", [g.op("Abs", [dy]), g.const(np.float32(1e-9))]), dy, g.const(np.float32(1e-9))])
    xcross = g.op("Add", [g.op("Div", [g.op("Mul", [g.op("Sub", [xj, xi]), g.op("Sub", [py, yi])]), dy_safe]), xi])
    cross = g.op("And", [straddle, g.op("Less", [px, xcross])])
    ncross = g.op("ReduceSum", [g.op("Cast", [cross], to=TensorProto.FLOAT), g.const(np.array([1], np.int64))], keepdims=1)
    return g.op("Mod", [ncross, g.const(np.float32(2.0))], fmod=1)


def mouth_box(g, size, box, minv, B, valid, disp):
    """The displacement `disp` [N, 2, S, S] (the coarse grid's, upsampled) replaced, in a box of whole
    crop pixels around the target's mouth, by the exact per-pixel piecewise-affine map.

    The coarse grid interpolates the displacement across triangle edges. Where the target closes a
    mouth that is open in the reference, the triangles between the inner lips collapse and the
    displacement jumps at the lip line (above it pixels sample the upper lip, below it the lower
    lip): interpolated, it samples the teeth and cavity in between, a visible sliver. Per pixel, the
    jump stays a jump. The box's map is pasted with GridSample (nearest, exact at pixel centres)."""
    bw, bh = (int(round(f * size)) for f in box)
    mouth_tri = set(UPPER_LIP + LOWER_LIP + INTERIOR)
    sub = np.array([i for i, t in enumerate(triangles()[1]) if tuple(int(v) for v in t) in mouth_tri], np.int64)
    ts = len(sub)
    sub_c = g.const(sub, "box_tri")
    minv_s = g.op("Gather", [minv, sub_c], axis=1)  # [N, Ts, 3, 3]
    B_s = g.op("Gather", [B, sub_c], axis=1)  # [N, Ts, 2, 3]
    valid_s = g.op("Gather", [valid, sub_c], axis=1)  # [N, Ts]
    org3, xy = box_pixels(g, size, bw, bh)
    x0 = g.op("Slice", [xy, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)),
                        g.const(np.array([1], np.int64))])
    ones = g.op("Add", [g.op("Mul", [x0, g.const(np.float32(0.0))]), g.const(np.float32(1.0))])
    X = g.op("Unsqueeze", [g.op("Concat", [xy, ones], axis=1), g.const(np.array([1], np.int64))])  # [N, 1, 3, P]
    lam = g.op("MatMul", [minv_s, X])  # [N, Ts, 3, P]
    score = g.op("ReduceMin", [lam], axes=[2], keepdims=0)  # [N, Ts, P]
    valid_e = g.op("Unsqueeze", [valid_s, g.const(np.array([2], np.int64))])
    score = g.op("Where", [valid_e, score, g.const(np.float32(-1e9))])
    best = g.op("ReduceMax", [score], axes=[1], keepdims=1)  # [N, 1, P]
    onehot = g.op("Cast", [g.op("Equal", [score, best])], to=TensorProto.FLOAT)
    src = chosen_map(g, B_s, onehot, X, ts)  # [N, 2, P]
    dbox = g.op("Reshape", [g.op("Sub", [src, xy]), g.const(np.array([0, 2, bh, bw], np.int64))])
    # Weight: inside one of the box's triangles, feathered over the box's outer pixels.
    cov = g.op("Cast", [g.op("Greater", [best, g.const(np.float32(-1e-4))])], to=TensorProto.FLOAT)
    cov = g.op("Reshape", [cov, g.const(np.array([0, 1, bh, bw], np.int64))])
    ey = np.minimum(np.arange(bh), np.arange(bh)[::-1])[:, None]
    ex = np.minimum(np.arange(bw), np.arange(bw)[::-1])[None, :]
    win = np.clip((np.minimum(ex, ey) + 1.0) / (BOX_FEATHER + 1.0), 0.0, 1.0)[None, None].astype(np.float32)
    w = g.op("Mul", [cov, g.const(win, "box_window")])
    boxmap = g.op("Concat", [g.op("Mul", [dbox, w]), w], axis=1)  # [N, 3, bh, bw], premultiplied
    pasted = paste_box(g, size, bw, bh, org3, boxmap)
    dfine = g.op("Slice", [pasted, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64)),
                           g.const(np.array([1], np.int64))])
    wf = g.op("Slice", [pasted, g.const(np.array([2], np.int64)), g.const(np.array([3], np.int64)),
                        g.const(np.array([1], np.int64))])
    return g.op("Add", [g.op("Mul", [disp, g.op("Sub", [g.const(np.float32(1.0)), wf])]), dfine])


# Closing a mouth that the reference shows open (the target's inner lips nearly meet where the
# reference's are apart): the reference's inner lip points (61-63, 65-67) are moved this share of
# the way towards their outer partners (50-52, 56-58) for the lips' triangles, so that the lips'
# inner edges in the output sample lip, not the teeth or cavity at the landmarks' edge; and the
# interior's triangles get their own reference points, the lower ones moved onto the (moved) upper
# lip line, so that what is left of the interior (slivers where the lips meet at a slant) shows lip.
LIP_IN = 0.3
LIP_IN_GAP = 0.03  # fully once the target's inner-lip gap is this much (crop units) below the reference's
CLOSED_GAP = 0.015  # ... and the target's own gap is zero; none from this gap up (speech keeps its lips)
LIP_PAIRS = [(61, 50), (62, 51), (63, 52), (65, 56), (66, 57), (67, 58)]
INNER = list(range(60, 68))
UPPER_OF = {65: 63, 66: 62, 67: 61}


def lips_inward(g, share):
    """(reference landmarks for the lips' triangles [N, 68, 2], reference points 60-67 for the
    interior's triangles [N, 8, 2]); both the reference's own when the target's mouth is not nearly
    closed or not more closed than the reference's."""
    partner = np.arange(68)
    w = np.zeros((1, 68, 1), np.float32)
    for i, o in LIP_PAIRS:
        partner[i], w[0, i, 0] = o, share
    rl = "reference_landmarks"
    delta = g.op("Sub", [g.op("Gather", [rl, g.const(partner.astype(np.int64))], axis=1), rl])  # [N, 68, 2]

    def gap(lm):  # mean inner-lip gap along y, [N, 1, 1]
        y = g.op("Slice", [lm, g.const(np.array([1], np.int64)), g.const(np.array([2], np.int64)),
                           g.const(np.array([2], np.int64))])
        lo = g.op("Gather", [y, g.const(np.array([67, 66, 65], np.int64))], axis=1)
        up = g.op("Gather", [y, g.const(np.array([61, 62, 63], np.int64))], axis=1)
        return g.op("ReduceMean", [g.op("Sub", [lo, up])], axes=[1], keepdims=1)

    one, zero = g.const(np.float32(1.0)), g.const(np.float32(0.0))
    gt = gap("target_landmarks")
    more = g.op("Clip", [g.op("Div", [g.op("Sub", [gap(rl), gt]), g.const(np.float32(LIP_IN_GAP))]), zero, one])
    shut = g.op("Clip", [g.op("Sub", [one, g.op("Div", [gt, g.const(np.float32(CLOSED_GAP))])]), zero, one])
    closing = g.op("Mul", [more, shut])  # [N, 1, 1]
    lips = g.op("Add", [rl, g.op("Mul", [g.op("Mul", [delta, g.const(w, "lip_in")]), closing])])
    # Mouth corners, one copy for each lip: 60 and 64 moved towards 49 and 53 (upper lip), 59 and 55
    # (lower lip), by the same share.
    cidx, cto = [60, 64, 60, 64], [49, 53, 59, 55]
    cfrom = g.op("Gather", [rl, g.const(np.array(cidx, np.int64))], axis=1)  # [N, 4, 2]
    cdir = g.op("Sub", [g.op("Gather", [rl, g.const(np.array(cto, np.int64))], axis=1), cfrom])
    corners = g.op("Add", [cfrom, g.op("Mul", [g.op("Mul", [cdir, g.const(np.float32(share))]), closing])])
    # Interior: 60-67 of `lips` (the corners the upper lip's), the lower ones (65-67) moved onto their
    # upper partners by `closing`.
    c_up = g.op("Slice", [corners, g.const(np.array([0], np.int64)), g.const(np.array([2], np.int64)),
                          g.const(np.array([1], np.int64))])  # [N, 2, 2]: 60u, 64u
    up = [UPPER_OF.get(i, i) for i in INNER]
    inner = g.op("Gather", [lips, g.const(np.array(INNER, np.int64))], axis=1)  # [N, 8, 2]
    upper = g.op("Gather", [lips, g.const(np.array(up, np.int64))], axis=1)
    inner = g.op("Add", [inner, g.op("Mul", [g.op("Sub", [upper, inner]), closing])])
    # Order 60-67 with 60 and 64 from c_up: [60u, 61, 62, 63, 64u, 65, 66, 67].
    sl = lambda t, a, b: g.op("Slice", [t, g.const(np.array([a], np.int64)), g.const(np.array([b], np.int64)),
                                        g.const(np.array([1], np.int64))])
    interior = g.op("Concat", [sl(c_up, 0, 1), sl(inner, 1, 4), sl(c_up, 1, 2), sl(inner, 5, 8)], axis=1)
    return lips, g.op("Concat", [interior, corners], axis=1)  # [N, 12, 2]: interior 60-67, then 60u 64u 60l 64l


# Real mouth interiors (training/l2f/exemplars.py): a bank [K, 3, H, W] of GRID s1 interiors in the
# canonical (u, v) grid, one per opening level, with the skin colour around the mouth they were
# taken with. These constants mirror exemplars.py (UPPER, LOWER, SKIN, the skin patch).
EX_UPPER = [60, 61, 62, 63, 64]
EX_LOWER = [60, 67, 66, 65, 64]
EX_SKIN = [(4, 48), (12, 54), (8, 57), (33, 51)]
CAST_CLIP = (0.6, 1.6)      # per-channel colour cast ratio, portrait over bank
CAVITY_RAMP = 0.25          # openings past the bank's widest: the middle darkens over this many level heights
BRIGHT_POW = 0.5            # the brightness follows the skin's by this power (teeth are not skin) ...
BRIGHT_CLIP = (0.6, 1.4)    # ... within these bounds


def exemplar_interior(g, bank, pxx, pyy):
    """Interior colour [N, 3, S, S] at every crop pixel (pxx, pyy [1, 1, S, S]): the bank's two
    levels around the target's opening blended, sampled at the pixel's canonical (u, v), times the
    portrait's colour match."""
    tex, levels, skin = bank["tex"].astype(np.float32), bank["levels"].astype(np.float64), bank["skin"]
    k, _, ht, wt = tex.shape
    step = float(levels[1] - levels[0])
    assert np.allclose(np.diff(levels), step), "bank levels must be evenly spaced"
    one, zero = g.const(np.float32(1.0)), g.const(np.float32(0.0))
    tl = "target_landmarks"

    def coord(idx, c):  # [N, len(idx), 1, 1]... as [N, 1, 1, 1] each
        s = g.op("Gather", [tl, g.const(np.array(idx, np.int64))], axis=1)  # [N, k, 2]
        s = g.op("Slice", [s, g.const(np.array([c], np.int64)), g.const(np.array([c + 1], np.int64)),
                           g.const(np.array([2], np.int64))])  # [N, k, 1]
        return [g.op("Reshape", [g.op("Slice", [s, g.const(np.array([i], np.int64)), g.const(np.array([i + 1], np.int64)),
                                                 g.const(np.array([1], np.int64))]),
                                  g.const(np.array([-1, 1, 1, 1], np.int64))]) for i in range(len(idx))]

    def line(idx):  # piecewise-linear y of the lip line at every pixel's x, [N, 1, S, S]
        xs, ys = coord(idx, 0), coord(idx, 1)
        y = g.op("Add", [ys[0], g.op("Mul", [pxx, zero])])
        for i in range(len(idx) - 1):
            w = g.op("Max", [g.op("Sub", [xs[i + 1], xs[i]]), g.const(np.float32(1e-4))])
            t = g.op("Clip", [g.op("Div", [g.op("Sub", [pxx, xs[i]]), w]), zero, one])
            y = g.op("Add", [y, g.op("Mul", [t, g.op("Sub", [ys[i + 1], ys[i]])])])
        return y

    x60, x64 = coord([60, 64], 0)
    u = g.op("Div", [g.op("Sub", [pxx, x60]), g.op("Max", [g.op("Sub", [x64, x60]), g.const(np.float32(1e-3))])])
    up, lo = line(EX_UPPER), line(EX_LOWER)
    v = g.op("Div", [g.op("Sub", [pyy, up]), g.op("Max", [g.op("Sub", [lo, up]), g.const(np.float32(1e-3))])])
    two = g.const(np.float32(2.0))
    # Opening (as exemplars.opening): inner-lip gap along y over the mouth width 48-54 along x.
    ya, yb = coord([61, 62, 63], 1), coord([67, 66, 65], 1)
    gap = g.op("Div", [g.op("Sum", [g.op("Sub", [b, a_]) for a_, b in zip(ya, yb)]), g.const(np.float32(3.0))])
    x48, x54 = coord([48, 54], 0)
    op_raw = g.op("Div", [gap, g.op("Max", [g.op("Sub", [x54, x48]), g.const(np.float32(1e-3))])])  # [N, 1, 1, 1]
    # Wider than the widest level: rows above the bank's dark row keep their size under the upper
    # lip, rows below keep theirs above the lower lip, the dark row fills between (exemplars.py).
    split = float(bank["split"])
    kk = g.op("Max", [g.op("Div", [op_raw, g.const(np.float32(levels[-1]))]), one])
    d_top = g.op("Mul", [v, kk])
    d_bot = g.op("Mul", [g.op("Sub", [one, v]), kk])
    # How far into the filled middle (in heights of the widest level): the cavity darkens there.
    fill = g.op("Clip", [g.op("Mul", [g.op("Min", [g.op("Sub", [d_top, g.const(np.float32(split))]),
                                                    g.op("Sub", [d_bot, g.const(np.float32(1.0 - split))])]),
                                      g.const(np.float32(1.0 / CAVITY_RAMP))]), zero, one])  # [N, 1, S, S]
    v = g.op("Where", [g.op("LessOrEqual", [d_top, g.const(np.float32(split))]), d_top,
                       g.op("Where", [g.op("LessOrEqual", [d_bot, g.const(np.float32(1.0 - split))]),
                                      g.op("Sub", [one, d_bot]), g.const(np.float32(split))])])
    gxy = g.op("Concat", [g.op("Sub", [g.op("Mul", [u, two]), one]), g.op("Sub", [g.op("Mul", [v, two]), one])], axis=1)
    gxy = g.op("Transpose", [gxy], perm=[0, 2, 3, 1])  # [N, S, S, 2]
    op = g.op("Clip", [g.op("Reshape", [op_raw, g.const(np.array([-1, 1], np.int64))]),
                       g.const(np.float32(levels[0])), g.const(np.float32(levels[-1]))])  # [N, 1]
    hat = g.op("Sub", [one, g.op("Div", [g.op("Abs", [g.op("Sub", [op, g.const(levels[None].astype(np.float32))])]),
                                         g.const(np.float32(step))])])
    wts = g.op("Relu", [hat])  # [N, K], two non-zero, summing to 1
    t = g.op("MatMul", [wts, g.const(tex.reshape(k, -1), "mouth_bank")])
    t = g.op("Reshape", [t, g.const(np.array([-1, 3, ht, wt], np.int64))])
    samp = g.op("GridSample", [t, gxy], mode="bilinear", padding_mode="border", align_corners=0)
    dark = g.const(np.asarray(bank["dark"], np.float32).reshape(1, 3, 1, 1), "bank_dark")
    samp = g.op("Add", [samp, g.op("Mul", [g.op("Sub", [dark, samp]), fill])])
    # Colour match: the portrait's skin around the mouth (5x5 patches of crop pixels at 256 around
    # the SKIN midpoints of the reference landmarks) against the bank's.
    rl = "reference_landmarks"
    pa = g.op("Gather", [rl, g.const(np.array([a_ for a_, _ in EX_SKIN], np.int64))], axis=1)
    pb = g.op("Gather", [rl, g.const(np.array([b for _, b in EX_SKIN], np.int64))], axis=1)
    mid = g.op("Unsqueeze", [g.op("Mul", [g.op("Add", [pa, pb]), g.const(np.float32(0.5))]),
                             g.const(np.array([2], np.int64))])  # [N, 4, 1, 2]
    d = (np.arange(5) - 2) / 256.0
    dy, dx = np.meshgrid(d, d, indexing="ij")
    offs = np.stack([dx, dy], -1).reshape(1, 1, 25, 2).astype(np.float32)
    sp = g.op("Add", [mid, g.const(offs, "skin_patch")])  # [N, 4, 25, 2]
    sp = g.op("Reshape", [g.op("Sub", [g.op("Mul", [sp, two]), one]), g.const(np.array([0, 1, -1, 2], np.int64))])
    sv = g.op("GridSample", ["reference", sp], mode="bilinear", padding_mode="border", align_corners=0)  # [N, 3, 1, 100]
    sp_rgb = g.op("ReduceMean", [sv], axes=[2, 3], keepdims=1)  # [N, 3, 1, 1]
    sp_rgb = g.op("Max", [sp_rgb, g.const(np.float32(1e-3))])
    lum_p = g.op("ReduceMean", [sp_rgb], axes=[1], keepdims=1)  # [N, 1, 1, 1]
    # Colour: the bank's colours are carried over by the cast of the portrait's skin against the
    # bank's (per channel, chromaticity over chromaticity: a warmer or bluer light, a painting's
    # palette), then their saturation (difference from their own grey) is scaled down by the
    # portrait's skin saturation over the bank's (a grey-scale portrait gets a grey interior; never
    # more saturated than the bank); the brightness follows the skin's partly (teeth are not skin:
    # a dark-skinned face keeps light teeth).
    skin = np.asarray(skin, np.float64)
    sat_g = float(np.sqrt(np.mean((skin - skin.mean()) ** 2)) / skin.mean())
    cast_g = (skin / skin.mean()).reshape(1, 3, 1, 1).astype(np.float32)
    cast = g.op("Clip", [g.op("Div", [g.op("Div", [sp_rgb, lum_p]), g.const(cast_g, "bank_cast")]),
                         g.const(np.float32(CAST_CLIP[0])), g.const(np.float32(CAST_CLIP[1]))])
    dev = g.op("Sub", [sp_rgb, lum_p])
    sat_p = g.op("Div", [g.op("Sqrt", [g.op("ReduceMean", [g.op("Mul", [dev, dev])], axes=[1], keepdims=1)]), lum_p])
    sat = g.op("Clip", [g.op("Div", [sat_p, g.const(np.float32(sat_g))]), zero, one])
    bright = g.op("Clip", [g.op("Pow", [g.op("Div", [lum_p, g.const(np.float32(skin.mean()))]), g.const(np.float32(BRIGHT_POW))]),
                           g.const(np.float32(BRIGHT_CLIP[0])), g.const(np.float32(BRIGHT_CLIP[1]))])
    samp = g.op("Mul", [samp, cast])
    lum_t = g.op("ReduceMean", [samp], axes=[1], keepdims=1)  # [N, 1, S, S]
    col = g.op("Add", [lum_t, g.op("Mul", [g.op("Sub", [samp, lum_t]), sat])])
    return g.op("Mul", [col, bright])



class G:
    """A tiny graph builder."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0
        self.shared = {}

    def shared_const(self, key, make, base):
        """One initializer for a constant used in several places (made by make() the first time)."""
        if key not in self.shared:
            self.shared[key] = self.const(make(), base)
        return self.shared[key]

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, base="c"):
        nm = self.name(base)
        arr = np.asarray(value)
        if arr.dtype == np.float64:
            arr = arr.astype(np.float32)
        self.inits.append(numpy_helper.from_array(arr, nm))
        return nm

    def op(self, op_type, inputs, base=None, outputs=None, **attrs):
        out = outputs or [self.name(base or op_type.lower())]
        self.nodes.append(helper.make_node(op_type, inputs, out, **attrs))
        return out[0] if len(out) == 1 else out


def build(size: int, grid: int, box=BOX, lip_in=LIP_IN, bank=None):
    verts, tri = triangles()
    n_anchor = verts.shape[0] - 68
    T = tri.shape[0]
    g = G()

    # Control points [N, V, 2]: landmarks then anchors.
    anchor_c = g.const(anchors()[None].astype(np.float32), "anchors")  # [1, A, 2]
    shape_a = g.op("Shape", ["target_landmarks"])
    n_dim = g.op("Slice", [shape_a, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64))])
    a_shape = g.op("Concat", [n_dim, g.const(np.array([n_anchor, 2], np.int64))], axis=0)
    anchors_n = g.op("Expand", [anchor_c, a_shape])
    if lip_in > 0:
        # The interior's triangles get their own control points (copies of 60-67, after the anchors).
        # So do the mouth corners of each lip's band (60 and 64 of UPPER_LIP, then of LOWER_LIP).
        first = verts.shape[0]
        rows = [tuple(int(v) for v in t) for t in tri]
        tri = tri.copy()
        for k, r in enumerate(rows):
            if r in INTERIOR:
                tri[k] = [first + v - 60 for v in r]
            elif r in UPPER_LIP:
                tri[k] = [first + 8 if v == 60 else first + 9 if v == 64 else v for v in r]
            elif r in LOWER_LIP:
                tri[k] = [first + 10 if v == 60 else first + 11 if v == 64 else v for v in r]
        verts = np.concatenate([verts, verts[60:68], verts[[60, 64, 60, 64]]], axis=0)
        ref_lm, ref_in = lips_inward(g, lip_in)
        tgt_in = g.op("Gather", ["target_landmarks", g.const(np.array(INNER + [60, 64, 60, 64], np.int64))], axis=1)
        tgt = g.op("Concat", ["target_landmarks", anchors_n, tgt_in], axis=1)
        ref = g.op("Concat", [ref_lm, anchors_n, ref_in], axis=1)
    else:
        tgt = g.op("Concat", ["target_landmarks", anchors_n], axis=1)
        ref = g.op("Concat", ["reference_landmarks", anchors_n], axis=1)

    tri_idx = g.const(tri.reshape(-1), "tri")  # [T*3]
    tv = g.op("Gather", [tgt, tri_idx], axis=1)  # [N, T*3, 2]
    rv = g.op("Gather", [ref, tri_idx], axis=1)
    tv = g.op("Reshape", [tv, g.const(np.array([0, T, 3, 2], np.int64))])
    rv = g.op("Reshape", [rv, g.const(np.array([0, T, 3, 2], np.int64))])

    def comp(t, k, c):  # vertex k, coordinate c: [N, T]
        s = g.op("Slice", [t, g.const(np.array([k, c], np.int64)), g.const(np.array([k + 1, c + 1], np.int64)),
                           g.const(np.array([2, 3], np.int64))])
        return g.op("Reshape", [s, g.const(np.array([0, T], np.int64))])

    x1, y1, x2, y2, x3, y3 = (comp(tv, k, c) for k in range(3) for c in range(2))
    sub = lambda a, b: g.op("Sub", [a, b])
    mul = lambda a, b: g.op("Mul", [a, b])
    add = lambda a, b: g.op("Add", [a, b])
    det = add(mul(sub(y2, y3), sub(x1, x3)), mul(sub(x3, x2), sub(y1, y3)))
    eps = g.const(np.float32(1e-9))
    absdet = g.op("Abs", [det])
    valid = g.op("Greater", [absdet, eps])
    det_safe = g.op("Where", [valid, det, g.const(np.float32(1.0))])
    a1 = g.op("Div", [sub(y2, y3), det_safe])
    b1 = g.op("Div", [sub(x3, x2), det_safe])
    a2 = g.op("Div", [sub(y3, y1), det_safe])
    b2 = g.op("Div", [sub(x1, x3), det_safe])
    c1 = g.op("Neg", [add(mul(a1, x3), mul(b1, y3))])
    c2 = g.op("Neg", [add(mul(a2, x3), mul(b2, y3))])
    a3 = g.op("Neg", [add(a1, a2)])
    b3 = g.op("Neg", [add(b1, b2)])
    c3 = sub(g.const(np.float32(1.0)), add(c1, c2))
    # Minv [N, T, 3, 3]: rows give barycentric coordinates from (x, y, 1).
    parts = [g.op("Unsqueeze", [v, g.const(np.array([2], np.int64))]) for v in (a1, b1, c1, a2, b2, c2, a3, b3, c3)]
    minv = g.op("Concat", parts, axis=2)
    minv = g.op("Reshape", [minv, g.const(np.array([0, T, 3, 3], np.int64))])

    # Coarse grid of target positions [3, G*G] (cell centres).
    cs = (np.arange(grid) + 0.5) / grid
    gy, gx = np.meshgrid(cs, cs, indexing="ij")
    X = np.stack([gx.reshape(-1), gy.reshape(-1), np.ones(grid * grid)], axis=0).astype(np.float32)
    # Barycentric coordinates with the points first ([N, GG, T, 3]), so that the reductions over the
    # triangles run along the innermost axis (much faster in ONNX Runtime than across it).
    # The third coordinate is 1 minus the other two; the score is the smallest of the three.
    xt = g.const(np.ascontiguousarray(X.T), "grid_t")  # [GG, 3]

    def bary(i):  # [N, GG, T]
        row = g.op("Slice", [minv, g.const(np.array([i], np.int64)), g.const(np.array([i + 1], np.int64)),
                             g.const(np.array([2], np.int64))])  # [N, T, 1, 3]
        row = g.op("Transpose", [g.op("Reshape", [row, g.const(np.array([0, T, 3], np.int64))])], perm=[0, 2, 1])
        return g.op("MatMul", [xt, row])

    l1, l2 = bary(0), bary(1)
    l3 = g.op("Sub", [g.op("Sub", [g.const(np.float32(1.0)), l1]), l2])
    score = g.op("Min", [l1, l2, l3])  # [N, GG, T]
    neg = g.const(np.float32(-1e9))
    valid_e = g.op("Unsqueeze", [valid, g.const(np.array([1], np.int64))])  # [N, 1, T]
    score = g.op("Where", [valid_e, score, neg])
    best = g.op("ReduceMax", [score], axes=[2], keepdims=1)  # [N, GG, 1]
    onehot = g.op("Cast", [g.op("Equal", [score, best])], to=TensorProto.FLOAT)  # [N, GG, T]
    # Affine maps target -> reference: B = R^T Minv, R^T [N, T, 2, 3].
    rT = g.op("Transpose", [rv], perm=[0, 1, 3, 2])
    B = g.op("MatMul", [rT, minv])  # [N, T, 2, 3]
    # The chosen triangle's map (ties share it) applied to each point.
    m6 = g.op("MatMul", [onehot, g.op("Reshape", [B, g.const(np.array([0, T, 6], np.int64))])])  # [N, GG, 6]
    cnt = g.op("ReduceSum", [onehot, g.const(np.array([2], np.int64))], keepdims=1)  # [N, GG, 1]
    m = g.op("Reshape", [g.op("Div", [m6, cnt]), g.const(np.array([0, grid * grid, 2, 3], np.int64))])
    src = g.op("ReduceSum", [g.op("Mul", [m, g.const(X.T.reshape(grid * grid, 1, 3).copy(), "grid_t3")]),
                             g.const(np.array([3], np.int64))], keepdims=0)  # [N, GG, 2]
    src = g.op("Transpose", [src], perm=[0, 2, 1])  # [N, 2, GG]
    src = g.op("Reshape", [src, g.const(np.array([0, 2, grid, grid], np.int64))])
    # Displacement on the coarse grid, upsampled, added to the fine identity grid (exact at rest).
    ident_c = g.const(X[:2].reshape(1, 2, grid, grid), "ident_coarse")
    disp_c = g.op("Sub", [src, ident_c])
    disp = g.op("Resize", [disp_c, "", g.const(np.array([1, 1, size / grid, size / grid], np.float32))],
                mode="linear", coordinate_transformation_mode="half_pixel")
    fs = (np.arange(size) + 0.5) / size
    fy, fx = np.meshgrid(fs, fs, indexing="ij")
    ident_f = g.const(np.stack([fx, fy], axis=0)[None].astype(np.float32), "ident_fine")  # [1, 2, S, S]
    if box:
        disp = mouth_box(g, size, box, minv, B, valid, disp)
    flow = g.op("Add", [disp, ident_f])  # [N, 2, S, S] reference positions in [0, 1]
    gridt = g.op("Transpose", [flow], perm=[0, 2, 3, 1])
    gridt = g.op("Sub", [g.op("Mul", [gridt, g.const(np.float32(2.0))]), g.const(np.float32(1.0))])
    warped = g.op("GridSample", ["reference", gridt], mode="bilinear", padding_mode="border", align_corners=0)

    # Mouth interior: inner-lip polygon 60..67 of the target, crossing-number test per pixel.
    inner = list(range(60, 68))
    poly = g.op("Gather", ["target_landmarks", g.const(np.array(inner, np.int64))], axis=1)  # [N, 8, 2]
    poly_n = g.op("Gather", ["target_landmarks", g.const(np.array(inner[1:] + inner[:1], np.int64))], axis=1)

    def coord(t, c, base):  # [N, 8, 1]
        s = g.op("Slice", [t, g.const(np.array([c], np.int64)), g.const(np.array([c + 1], np.int64)),
                           g.const(np.array([2], np.int64))])
        return s

    xi, yi, xj, yj = coord(poly, 0, "xi"), coord(poly, 1, "yi"), coord(poly_n, 0, "xj"), coord(poly_n, 1, "yj")
    if bank is None:  # every crop pixel
        pxx = g.op("Slice", [ident_f, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)),
                             g.const(np.array([1], np.int64))])  # [1, 1, S, S]
        pyy = g.op("Slice", [ident_f, g.const(np.array([1], np.int64)), g.const(np.array([2], np.int64)),
                             g.const(np.array([1], np.int64))])
        px = g.op("Reshape", [pxx, g.const(np.array([1, 1, -1], np.int64))])
        py = g.op("Reshape", [pyy, g.const(np.array([1, 1, -1], np.int64))])
        inside = g.op("Reshape", [crossing_inside(g, (xi, yi, xj, yj), px, py), g.const(np.array([0, 1, size, size], np.int64))])
    else:  # the pixels of a box around the mouth (the interior lies inside the mouth box's size)
        ibw, ibh = (int(round(f * size)) for f in BOX)
        iorg, ixy = box_pixels(g, size, ibw, ibh)
        px = g.op("Slice", [ixy, g.const(np.array([0], np.int64)), g.const(np.array([1], np.int64)),
                            g.const(np.array([1], np.int64))])  # [N, 1, P]
        py = g.op("Slice", [ixy, g.const(np.array([1], np.int64)), g.const(np.array([2], np.int64)),
                            g.const(np.array([1], np.int64))])
        bshape = g.const(np.array([0, 1, ibh, ibw], np.int64))
        pxx, pyy = g.op("Reshape", [px, bshape]), g.op("Reshape", [py, bshape])  # [N, 1, bh, bw]
        inside = g.op("Reshape", [crossing_inside(g, (xi, yi, xj, yj), px, py), bshape])

    # Opening (inner-lip gap, points 62 and 66) of target and reference, and the mouth's geometry.
    def pt(t, i, c):
        s = g.op("Slice", [t, g.const(np.array([i, c], np.int64)), g.const(np.array([i + 1, c + 1], np.int64)),
                           g.const(np.array([1, 2], np.int64))])
        return g.op("Reshape", [s, g.const(np.array([-1, 1, 1, 1], np.int64))])  # [N, 1, 1, 1]

    open_t = sub(pt("target_landmarks", 66, 1), pt("target_landmarks", 62, 1))
    open_r = sub(pt("reference_landmarks", 66, 1), pt("reference_landmarks", 62, 1))
    width = sub(pt("target_landmarks", 64, 0), pt("target_landmarks", 60, 0))
    width = g.op("Max", [width, g.const(np.float32(1e-3))])
    more_open = g.op("Clip", [g.op("Div", [sub(open_t, open_r), g.const(np.float32(0.015))]),
                              g.const(np.float32(0.0)), g.const(np.float32(1.0))])
    if bank is None:  # a painted cavity
        # Vertical position inside the mouth: t = 0 at the upper inner lip, 1 at the lower.
        y_up = g.op("Div", [add(add(pt("target_landmarks", 61, 1), pt("target_landmarks", 62, 1)), pt("target_landmarks", 63, 1)),
                            g.const(np.float32(3.0))])
        y_lo = g.op("Div", [add(add(pt("target_landmarks", 65, 1), pt("target_landmarks", 66, 1)), pt("target_landmarks", 67, 1)),
                            g.const(np.float32(3.0))])
        gap = g.op("Max", [sub(y_lo, y_up), g.const(np.float32(1e-3))])
        tpos = g.op("Clip", [g.op("Div", [sub(pyy, y_up), gap]), g.const(np.float32(0.0)), g.const(np.float32(1.0))])
        x_c = g.op("Div", [add(pt("target_landmarks", 60, 0), pt("target_landmarks", 64, 0)), g.const(np.float32(2.0))])
        u = g.op("Div", [sub(pxx, x_c), g.op("Mul", [width, g.const(np.float32(0.5))])])
        side = g.op("Clip", [sub(g.const(np.float32(1.0)), g.op("Mul", [mul(u, u), g.const(np.float32(0.7))])),
                             g.const(np.float32(0.15)), g.const(np.float32(1.0))])  # darker at the corners
        # Teeth height: about a tenth of the mouth width, at most half the gap (upper), a third (lower).
        teeth_h = g.op("Mul", [width, g.const(np.float32(0.11))])
        up_teeth = g.op("Clip", [g.op("Div", [sub(g.op("Min", [teeth_h, g.op("Mul", [gap, g.const(np.float32(0.55))])]),
                                                  sub(pyy, y_up)), g.const(np.float32(0.004))]),
                                 g.const(np.float32(0.0)), g.const(np.float32(1.0))])
        lo_teeth = g.op("Clip", [g.op("Div", [sub(sub(pyy, y_lo), g.op("Neg", [g.op("Min", [g.op("Mul", [teeth_h, g.const(np.float32(0.6))]),
                                                                                            g.op("Mul", [gap, g.const(np.float32(0.3))])])])),
                                              g.const(np.float32(0.004))]),
                                 g.const(np.float32(0.0)), g.const(np.float32(1.0))])
        teeth = g.op("Max", [up_teeth, g.op("Mul", [lo_teeth, g.const(np.float32(0.8))])])
        # Gaps between teeth: thin darker lines, about eight teeth across the mouth, wider at the front.
        phase = g.op("Mul", [u, g.const(np.float32(np.pi * 4.0))])
        gaps = g.op("Pow", [g.op("Abs", [g.op("Cos", [phase])]), g.const(np.float32(24.0))])
        tooth_shade = sub(g.const(np.float32(1.0)), g.op("Mul", [gaps, g.const(np.float32(0.35))]))
        # Colours [1, 3, 1, 1]: cavity dark red-brown, deeper at the middle; teeth off-white.
        cav_col = g.const(np.array([0.23, 0.07, 0.07], np.float32).reshape(1, 3, 1, 1))
        deep = g.op("Clip", [sub(g.const(np.float32(1.0)), g.op("Mul", [g.op("Abs", [sub(tpos, g.const(np.float32(0.55)))]),
                                                                        g.const(np.float32(1.2))])),
                             g.const(np.float32(0.0)), g.const(np.float32(1.0))])
        cav = mul(cav_col, sub(g.const(np.float32(1.0)), g.op("Mul", [deep, g.const(np.float32(0.6))])))
        teeth_col = g.const(np.array([0.93, 0.87, 0.76], np.float32).reshape(1, 3, 1, 1))
        interior = add(mul(cav, sub(g.const(np.float32(1.0)), teeth)), mul(mul(mul(teeth_col, teeth), tooth_shade), g.op("Add", [g.op("Mul", [tpos, g.const(np.float32(-0.35))]), g.const(np.float32(1.0))])))
        interior = mul(interior, side)
    else:  # real interiors
        interior = exemplar_interior(g, bank, pxx, pyy)
    # Soft alpha: the polygon blurred a little, scaled by how much more open the target is.
    alpha = g.op("AveragePool", [inside], kernel_shape=[3, 3], pads=[1, 1, 1, 1], count_include_pad=1)
    alpha = mul(alpha, more_open)
    if bank is None:
        frame = add(mul(warped, sub(g.const(np.float32(1.0)), alpha)), mul(interior, alpha))
    else:  # the box's interior and alpha pasted into the crop (premultiplied; zero outside the box)
        pasted = paste_box(g, size, ibw, ibh, iorg, g.op("Concat", [mul(interior, alpha), alpha], axis=1))
        alpha = g.op("Slice", [pasted, g.const(np.array([3], np.int64)), g.const(np.array([4], np.int64)),
                               g.const(np.array([1], np.int64))])
        interior_pm = g.op("Slice", [pasted, g.const(np.array([0], np.int64)), g.const(np.array([3], np.int64)),
                                     g.const(np.array([1], np.int64))])
        frame = add(mul(warped, sub(g.const(np.float32(1.0)), alpha)), interior_pm)
    frame = g.op("Clip", [frame, g.const(np.float32(0.0)), g.const(np.float32(1.0))], outputs=["frame"])

    # Mask: displacement over a pixel or so, dilated and feathered on the coarse grid, upsampled,
    # joined with the painted interior, zero at the crop border.
    dmag = g.op("ReduceMax", [g.op("Abs", [disp_c])], axes=[1], keepdims=1)  # [N, 1, G, G]
    changed = g.op("Clip", [g.op("Mul", [dmag, g.const(np.float32(size / 1.5))]), g.const(np.float32(0.0)),
                            g.const(np.float32(1.0))])
    k = max(3, (grid // 16) | 1)
    changed = g.op("MaxPool", [changed], kernel_shape=[k, k], pads=[k // 2] * 4, strides=[1, 1])
    changed = g.op("AveragePool", [changed], kernel_shape=[k, k], pads=[k // 2] * 4, count_include_pad=1)
    changed = g.op("Resize", [changed, "", g.const(np.array([1, 1, size / grid, size / grid], np.float32))],
                   mode="linear", coordinate_transformation_mode="half_pixel")
    changed = g.op("Max", [changed, alpha])
    e = np.minimum(np.minimum(fx, 1 - fx), np.minimum(fy, 1 - fy))
    border = np.clip((e - 0.01) / 0.06, 0.0, 1.0)[None, None].astype(np.float32)
    g.op("Mul", [changed, g.const(border, "border")], outputs=["mask"])

    inputs = [
        helper.make_tensor_value_info("reference", TensorProto.FLOAT, ["N", 3, size, size]),
        helper.make_tensor_value_info("reference_landmarks", TensorProto.FLOAT, ["N", 68, 2]),
        helper.make_tensor_value_info("target_landmarks", TensorProto.FLOAT, ["N", 68, 2]),
    ]
    outputs = [
        helper.make_tensor_value_info("frame", TensorProto.FLOAT, ["N", 3, size, size]),
        helper.make_tensor_value_info("mask", TensorProto.FLOAT, ["N", 1, size, size]),
    ]
    graph = helper.make_graph(g.nodes, "landmarks2face_warp", inputs, outputs, g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="talkingface-training")
    model.ir_version = 8
    box_txt = f", per pixel in a {round(box[0] * size)}x{round(box[1] * size)} mouth box" if box else ""
    meta = {
        "kind": "landmarks2face",
        "version": "1",
        "description": f"piecewise-affine landmark warp ({T} triangles, {grid}x{grid} control grid{box_txt}) with "
                       + ("a synthesized mouth interior; no learned weights" if bank is None else
                          f"real mouth interiors ({len(bank['levels'])} opening levels from GRID s1, CC BY 4.0, Cooke et al. 2006), "
                          "colour-matched to the portrait; no learned weights"),
        "size": str(size),
        "crop": CROP,
    }
    for k_, v in meta.items():
        p = model.metadata_props.add()
        p.key, p.value = "talkingface." + k_, v
    onnx.checker.check_model(model)
    return model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--grid", type=int, default=64)
    ap.add_argument("--no-box", action="store_true", help="no exact mouth box (the coarse grid everywhere)")
    ap.add_argument("--lip-in", type=float, default=LIP_IN)
    ap.add_argument("--bank", default=str(BANK), help="mouth interior bank (training/l2f/exemplars.py's npz)")
    ap.add_argument("--painted", action="store_true", help="a painted cavity instead of the bank (the generator before issue 10)")
    ap.add_argument("--out", default=str(ROOT / "models" / "landmarks2face.onnx"))
    a = ap.parse_args()
    bank = None
    if not a.painted:
        try:
            bank = dict(np.load(a.bank))
        except OSError as e:
            raise SystemExit(f"make_warp_generator: error: cannot read the mouth interior bank {a.bank} ({e}); "
                             "make it with training/run.sh warp (or python3 training/l2f/exemplars.py), "
                             "or pass --painted") from None
    model = build(a.size, a.grid, None if a.no_box else BOX, a.lip_in, bank)
    onnx.save(model, a.out)
    print(f"wrote {a.out}: {pathlib.Path(a.out).stat().st_size} bytes")


if __name__ == "__main__":
    main()
