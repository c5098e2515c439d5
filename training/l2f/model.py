"""The learned mouth stage: a small U-Net on an M x M box around the target's mouth.

Input of the network (8 channels, M x M): the warp's box (3: the shipped warp generator's unpainted
piecewise-affine warp of the reference), the reference's own mouth box (3: cut around the
reference's mouth, so its teeth and lips are seen), and the target's lips drawn as lines (2: outer
lip 48-59, inner lip 60-67; Gaussian profile of the distance to each segment). Output: a colour change d
(tanh) and a blend mask m (attention, as in Wang et al. 2020 / Chen et al. 2018's second stage):
the box is warp + m x d, i.e. warp x (1 - m) + (warp + d) x m, with m forced to zero at the box's
border so the paste is seamless. The head starts at zero, so the untrained stage is the warp (a
plain RGB + mask head collapsed to m = 0 in a first try: the warp beats an untrained RGB, and
the sigmoid saturates). The change is pasted onto the full-resolution warp, so outside the mouth's
new pixels the warp keeps its sharpness at any crop size.

Everything here is written with ops the legacy ONNX exporter maps to standard opset-17 operators
(GridSample, Conv, Resize, elementwise), so export.py exports this very module and joins it to the
warp graph.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

M = 64
BOX_SCALE = 1.9      # box side over mouth width (48-54)
OPEN_SCALE = 2.2     # ... or over the outer lips' height (51-57), whichever is larger
SIGMA = 1.2          # line profile, box pixels
OUTER = list(range(48, 60))
INNER = list(range(60, 68))
SEG_A = OUTER + INNER
SEG_B = OUTER[1:] + OUTER[:1] + INNER[1:] + INNER[:1]


def box(lm, scale=None, shift=None):
    """Mouth box from landmarks [N,68,2] (crop units): centre [N,2], side [N]."""
    mouth = lm[:, 48:68]
    c = mouth.mean(1)
    w = (lm[:, 54] - lm[:, 48]).norm(dim=-1)
    h = (lm[:, 57, 1] - lm[:, 51, 1]).abs()
    side = torch.maximum(w * BOX_SCALE, h * OPEN_SCALE)
    if scale is not None:
        side = side * scale
    if shift is not None:
        c = c + shift * side[:, None]
    return c, side


def box_grid(c, side, m=M):
    """Sampling grid [N,m,m,2] (GridSample units, align_corners=False) of the box's pixel centres."""
    t = (torch.arange(m, dtype=torch.float32) + 0.5) / m - 0.5          # [m]
    gx = c[:, 0, None, None] + side[:, None, None] * t[None, None, :]   # [N,1,m]
    gy = c[:, 1, None, None] + side[:, None, None] * t[None, :, None]   # [N,m,1]
    gx = gx.expand(-1, m, m)
    gy = gy.expand(-1, m, m)
    return torch.stack([gx, gy], -1) * 2 - 1


def lines(lm, c, side, m=M):
    """The target's lips drawn in the box: [N,2,m,m] (outer, inner)."""
    p = (lm - c[:, None]) / side[:, None, None] * m + m / 2               # box pixels [N,68,2]
    a = p[:, SEG_A]                                                     # [N,20,2]
    b = p[:, SEG_B]
    t = torch.arange(m, dtype=torch.float32) + 0.5
    px = t[None, None, None, :]                                         # [1,1,1,m]
    py = t[None, None, :, None]                                         # [1,1,m,1]
    ax, ay = a[..., 0, None, None], a[..., 1, None, None]               # [N,20,1,1]
    dx, dy = (b - a)[..., 0, None, None], (b - a)[..., 1, None, None]
    ll = dx * dx + dy * dy + 1e-6
    u = ((px - ax) * dx + (py - ay) * dy) / ll
    u = torch.clamp(u, 0.0, 1.0)
    ex = px - ax - u * dx
    ey = py - ay - u * dy
    g = torch.exp(-(ex * ex + ey * ey) / (2 * SIGMA * SIGMA))           # [N,20,m,m]
    outer = g[:, :12].amax(1, keepdim=True)
    inner = g[:, 12:].amax(1, keepdim=True)
    return torch.cat([outer, inner], 1)


def feather(m=M, edge=6):
    t = torch.arange(m, dtype=torch.float32) + 0.5
    e = torch.minimum(t, m - t)
    f = torch.clamp((e - 1.0) / edge, 0.0, 1.0)
    return (f[None, :] * f[:, None])[None, None]                        # [1,1,m,m]


def conv(i, o, s=1):
    return nn.Sequential(nn.Conv2d(i, o, 3, s, 1), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, ch=(16, 32, 48, 64), cin=8):
        super().__init__()
        c1, c2, c3, c4 = ch
        self.e1 = nn.Sequential(conv(cin, c1), conv(c1, c1))
        self.e2 = nn.Sequential(conv(c1, c2, 2), conv(c2, c2))
        self.e3 = nn.Sequential(conv(c2, c3, 2), conv(c3, c3))
        self.e4 = nn.Sequential(conv(c3, c4, 2), conv(c4, c4))
        self.d3 = nn.Sequential(conv(c4 + c3, c3), conv(c3, c3))
        self.d2 = nn.Sequential(conv(c3 + c2, c2), conv(c2, c2))
        self.d1 = nn.Sequential(conv(c2 + c1, c1), conv(c1, c1))
        self.head = nn.Conv2d(c1, 4, 1)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x):
        up = lambda t: F.interpolate(t, scale_factor=2.0, mode="nearest")
        x1 = self.e1(x)
        x2 = self.e2(x1)
        x3 = self.e3(x2)
        x4 = self.e4(x3)
        y = self.d3(torch.cat([up(x4), x3], 1))
        y = self.d2(torch.cat([up(y), x2], 1))
        y = self.d1(torch.cat([up(y), x1], 1))
        return self.head(y)


class MouthStage(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = UNet()
        self.register_buffer("feather", feather())
        self.chroma = 1.0

    def boxes(self, warped, reference, ref_lm, tgt_lm, scale=None, shift=None):
        """The network's input [N,8,M,M] and the target box (centre, side)."""
        c, side = box(tgt_lm, scale, shift)
        rc, rside = box(ref_lm, scale, None)
        wb = F.grid_sample(warped, box_grid(c, side), mode="bilinear", padding_mode="border", align_corners=False)
        rb = F.grid_sample(reference, box_grid(rc, rside), mode="bilinear", padding_mode="border",
                           align_corners=False)
        ln = lines(tgt_lm, c, side)
        return torch.cat([wb, rb, ln], 1), c, side

    def refine(self, x):
        """Network input [N,8,M,M] -> (box RGB [N,3,M,M] blended, rgb, mask [N,1,M,M])."""
        o = self.net(x * 2 - 1)
        d = torch.tanh(o[:, :3])                    # rgb = warp + d: starts as the warp
        if self.chroma != 1.0:                      # export option: scale the change's colour part
            dl = d.mean(1, keepdim=True)
            d = dl + (d - dl) * self.chroma
        m = torch.sigmoid(o[:, 3:4]) * self.feather
        out = x[:, :3] + d * m
        return out, d, m

    def paste(self, warped, d, m, c, side):
        """Pastes the box's change (d x m) back onto the full-resolution warp: frame [N,3,S,S] and the
        box's mask [N,1,S,S]."""
        s = warped.shape[-1]
        t = (torch.arange(s, dtype=torch.float32) + 0.5) / s                # crop pixel centres
        # crop -> box GridSample units: (x - c) / side * 2
        gx = (t[None, None, :] - c[:, 0, None, None]) / side[:, None, None] * 2
        gy = (t[None, :, None] - c[:, 1, None, None]) / side[:, None, None] * 2
        g = torch.stack([gx.expand(-1, s, s), gy.expand(-1, s, s)], -1)
        pm = F.grid_sample(torch.cat([d * m, m], 1), g, mode="bilinear", padding_mode="zeros", align_corners=False)
        mk = pm[:, 3:4]
        frame = warped + pm[:, :3]
        return frame, mk

    def forward(self, warped, reference, ref_lm, tgt_lm):
        x, c, side = self.boxes(warped, reference, ref_lm, tgt_lm)
        _, d, m = self.refine(x)
        frame, mk = self.paste(warped, d, m, c, side)
        return torch.clamp(frame, 0, 1), mk


if __name__ == "__main__":
    n = MouthStage()
    print(sum(p.numel() for p in n.parameters()), "parameters")
