"""Shared pieces: metadata, torch version of the contract front end, the model."""
import os, sys
import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))
from talkingface_kit import features as F  # noqa: E402

META = {
    "sample_rate": "16000", "hop_length": "640", "win_length": "1024", "n_fft": "1024", "n_mels": "40",
    "fmin": "60", "fmax": "7600", "features": "logmel,delta,delta2",
    "lookahead": os.environ.get("A2L_LOOKAHEAD", "3"),  # delay d of Eskimez et al., in frames
}
SR, HOP, WIN, NFFT, NMELS = 16000, 640, 1024, 1024, 40
LOOKAHEAD = int(META["lookahead"])
HIDDEN, LAYERS, NFEAT = 128, 2, 120
SCALE = 0.1  # head output units: canonical displacement / SCALE
MOUTH = list(range(48, 68)) + list(range(4, 13))

_FB = torch.tensor(F.mel_filterbank(SR, NFFT, NMELS, 60.0, 7600.0), dtype=torch.float64)
_WIN = torch.tensor(0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN) / WIN), dtype=torch.float64)


def vtlp(p, warp):
    """Vocal tract length perturbation of power spectra p [B, T, K] (Jaitly and Hinton 2013): the
    frequency axis of element b is read at f * warp[b] (linear interpolation between bins), which
    moves formants and harmonics by 1 / warp and keeps the timing. warp [B] (1 = unchanged)."""
    K = p.shape[-1]
    src = (torch.arange(K, dtype=torch.float64)[None] * warp[:, None].to(torch.float64)).clamp(0, K - 1)  # [B,K]
    i0 = src.floor().long(); i1 = (i0 + 1).clamp(max=K - 1); f = (src - i0)[:, None, :]
    g0 = torch.gather(p, 2, i0[:, None, :].expand(-1, p.shape[1], -1))
    g1 = torch.gather(p, 2, i1[:, None, :].expand(-1, p.shape[1], -1))
    return g0 * (1 - f) + g1 * f


def torch_features(x, n_frames, warp=None):
    """x: [B, S] float tensor -> [B, n_frames, 120] float32; same as features.features (float64 inside).
    warp: optional [B] VTLP factors (training augmentation only)."""
    x = x.to(torch.float64)
    B, S = x.shape
    off = (HOP - WIN) // 2  # -192
    pad_left = -off
    need = pad_left + (n_frames - 1) * HOP + off + WIN + pad_left
    total = max(pad_left + S, need) + 1
    buf = torch.zeros(B, total, dtype=torch.float64)
    buf[:, pad_left:pad_left + S] = x
    frames = buf[:, : (n_frames - 1) * HOP + WIN].unfold(1, WIN, HOP)[:, :n_frames]  # start = n*HOP + off + pad_left = n*HOP
    p = torch.fft.rfft(frames * _WIN, n=NFFT).abs() ** 2
    if warp is not None:
        p = vtlp(p, warp)
    lm = torch.log(p @ _FB.T + F.LOG_FLOOR)
    sil = torch.full((B, 1, NMELS), float(np.log(F.LOG_FLOOR)), dtype=torch.float64)
    d = torch.diff(torch.cat([sil, lm], 1), dim=1)
    d2 = torch.diff(torch.cat([torch.zeros_like(sil), d], 1), dim=1)
    return torch.cat([lm, d, d2], 2).float()


class A2L(nn.Module):
    """Eskimez et al. 2018: stacked LSTM on log-mel + deltas. Optional auxiliary phoneme head
    (semantic supervision, Zheng et al. 2020): training only, not exported."""
    arch = "lstm"

    def __init__(self, mean=None, std=None, n_phones=0):
        super().__init__()
        self.register_buffer("mean", torch.zeros(NFEAT) if mean is None else torch.as_tensor(mean).float())
        self.register_buffer("std", torch.ones(NFEAT) if std is None else torch.as_tensor(std).float())
        self.lstm = nn.LSTM(NFEAT, HIDDEN, LAYERS, batch_first=True)
        self.head = nn.Linear(HIDDEN, 136)
        self.sp = nn.Linear(HIDDEN, 1)
        self.ph = nn.Linear(HIDDEN, n_phones) if n_phones else None
        nn.init.zeros_(self.head.weight); nn.init.zeros_(self.head.bias)

    def forward(self, x, state=None):
        x = (x - self.mean) / self.std
        y, state = self.lstm(x, state)
        self.phone_logits = self.ph(y) if self.ph is not None else None
        return self.head(y), self.sp(y).squeeze(-1), state  # displacement/SCALE [B,T,136], logit [B,T]


CONV_CH, CONV_K, CONV_LAYERS, ENC, GRU_H = 128, 3, 3, 256, 128


class CNNGRU(nn.Module):
    """Wang et al. 2020, lip branch: a CNN encoder (convolution, batch normalisation, ReLU) followed by a
    fully connected layer, then a GRU and a fully connected output. Made causal for streaming: each
    convolution sees its own past CONV_K-1 inputs (the streaming state of the exported model), the GRU
    its hidden state. The paper also feeds an FC encoding of a template face into the GRU; here the
    template is always the mean face, so that encoding is a constant and is the GRU's input bias.
    The head branch is absent: no head-motion targets exist (docs/model-card.md)."""
    arch = "cnngru"

    def __init__(self, mean=None, std=None, n_phones=0):
        super().__init__()
        self.register_buffer("mean", torch.zeros(NFEAT) if mean is None else torch.as_tensor(mean).float())
        self.register_buffer("std", torch.ones(NFEAT) if std is None else torch.as_tensor(std).float())
        chans = [NFEAT] + [CONV_CH] * CONV_LAYERS
        self.convs = nn.ModuleList(nn.Conv1d(a, b, CONV_K) for a, b in zip(chans[:-1], chans[1:]))
        self.bns = nn.ModuleList(nn.BatchNorm1d(b) for b in chans[1:])
        self.enc = nn.Linear(CONV_CH, ENC)
        self.gru = nn.GRU(ENC, GRU_H, 1, batch_first=True)
        self.head = nn.Linear(GRU_H, 136)
        self.sp = nn.Linear(GRU_H, 1)
        self.ph = nn.Linear(GRU_H, n_phones) if n_phones else None
        nn.init.zeros_(self.head.weight); nn.init.zeros_(self.head.bias)

    def forward(self, x, state=None):
        """x [B,T,F]; state: (list of conv buffers [B,K-1,C], gru h [1,B,H]) or None (zeros)."""
        x = ((x - self.mean) / self.std).transpose(1, 2)  # [B,F,T]
        bufs = state[0] if state is not None else [x.new_zeros(x.shape[0], c.in_channels, CONV_K - 1)
                                                    for c in self.convs]
        new_bufs = []
        for conv, bn, b in zip(self.convs, self.bns, bufs):
            xi = torch.cat([b, x], 2)
            new_bufs.append(xi[:, :, -(CONV_K - 1):])
            x = torch.relu(bn(conv(xi)))
        y = torch.relu(self.enc(x.transpose(1, 2)))
        y, h = self.gru(y, state[1] if state is not None else None)
        self.phone_logits = self.ph(y) if self.ph is not None else None
        return self.head(y), self.sp(y).squeeze(-1), (new_bufs, h)


ARCHS = {"lstm": A2L, "cnngru": CNNGRU}


def make_model(arch="lstm", mean=None, std=None, n_phones=0):
    return ARCHS[arch](mean, std, n_phones)
