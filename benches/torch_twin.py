#!/usr/bin/env python3
"""PyTorch twin of one `stylelearn bench` step, for a side-by-side CPU comparison.

One step = VGG-19 forward to relu5_1, Gram style loss at relu{1..5}_1, content loss at relu4_2,
total variation and range penalty, backward to the image, one Adam update -- the same terms and
normalisations as src/loss.rs and src/style/gram.rs:

  style   = 3.0 * sum_l (1/5) * ||G_l - T_l||^2 / ||T_l||^2,  G = F F^T / (C*H*W)
  content = 1.0 * ||F - Fc||^2 / ||Fc||^2                     (relu4_2)
  tv      = 1.0 * (sum dx^2 + sum dy^2) / (C*H*W)
  range   = 10  * sum(min(x,0)^2 + max(x-1,0)^2) / (C*H*W)

Adam: lr 0.02, betas (0.9, 0.999), eps 1e-8 (src/optim/adam.rs). Content and style images are
uniform noise, as in the Rust bench. The VGG-19 weights are read from the safetensors cache that
`stylelearn setup` writes (Caffe BGR convention), so both sides use the same network.

Benchmark-only: nothing in the tests or CI imports this file or needs torch.

Usage: python3 benches/torch_twin.py [--sizes 256,512] [--steps 5] [--threads 2] [--weights FILE]
Prints one line per size: `size seconds_per_step peak_rss_mib`.
"""
import argparse
import json
import os
import resource
import statistics
import struct
import sys
import time

import torch
import torch.nn.functional as F

POOL_AFTER = {1, 3, 7, 11}
NAMES = ["conv1_1", "conv1_2", "conv2_1", "conv2_2", "conv3_1", "conv3_2", "conv3_3", "conv3_4",
         "conv4_1", "conv4_2", "conv4_3", "conv4_4", "conv5_1", "conv5_2", "conv5_3", "conv5_4"]
STYLE = [0, 2, 4, 8, 12]  # relu1_1 relu2_1 relu3_1 relu4_1 relu5_1
CONTENT = [9]  # relu4_2
CAFFE_MEAN = [103.939, 116.779, 123.68]


def default_weights():
    home = os.environ.get("STYLELEARN_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "stylelearn")
    return os.path.join(home, "vgg19-caffe.safetensors")


def load_safetensors(path):
    """The project's safetensors layout, read without the safetensors package."""
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for name, info in header.items():
        assert info["dtype"] == "F32", info
        a, b = info["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(info["shape"])
    return out, meta.get("convention", "caffe_bgr")


class Vgg:
    def __init__(self, tensors, convention):
        self.convs = [(tensors[f"{n}.weight"], tensors[f"{n}.bias"]) for n in NAMES]
        self.convention = convention

    def preprocess(self, rgb):
        if self.convention == "caffe_bgr":
            mean = torch.tensor(CAFFE_MEAN).view(1, 3, 1, 1)
            return rgb.flip(1) * 255.0 - mean
        mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        return (rgb - mean) / std

    def features(self, rgb, layers):
        deepest = max(layers)
        x = self.preprocess(rgb)
        out = {}
        for i, (w, b) in enumerate(self.convs[: deepest + 1]):
            if i > 0 and (i - 1) in POOL_AFTER:
                x = F.max_pool2d(x, 2)
            x = F.relu(F.conv2d(x, w, b, padding=1))
            if i in layers:
                out[i] = x
        return [out[l] for l in layers]


def gram(f):
    _, c, h, w = f.shape
    m = f.reshape(c, h * w)
    return m @ m.t() / (c * h * w)


def step_seconds(net, size, steps):
    g = torch.Generator().manual_seed(1)
    content = torch.rand(1, 3, size, size, generator=g)
    style_img = torch.rand(1, 3, size, size, generator=g)
    with torch.no_grad():
        targets = [gram(f) for f in net.features(style_img, STYLE)]
        tnorms = [t.square().sum().clamp_min(1e-12) for t in targets]
        fc = net.features(content, CONTENT)
        cnorms = [t.square().sum().clamp_min(1e-12) for t in fc]
    layers = sorted(set(STYLE + CONTENT))
    x = content.clone().requires_grad_(True)
    opt = torch.optim.Adam([x], lr=0.02, betas=(0.9, 0.999), eps=1e-8)
    c, h, w = 3, size, size

    def step():
        opt.zero_grad(set_to_none=True)
        feats = dict(zip(layers, net.features(x, layers)))
        style = sum((gram(feats[l]) - t).square().sum() / n * (1.0 / len(STYLE))
                    for l, t, n in zip(STYLE, targets, tnorms)) * 3.0
        content_l = sum((feats[l] - t).square().sum() / n
                        for l, t, n in zip(CONTENT, fc, cnorms)) * (1.0 / len(CONTENT))
        rng = ((-x).clamp_min(0).square() + (x - 1).clamp_min(0).square()).sum() / (c * h * w) * 10.0
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        tv = (dx.square().sum() + dy.square().sum()) / (c * h * w)
        loss = style + content_l + rng + tv
        loss.backward()
        opt.step()
        return loss.item()

    step()  # warm-up
    times = []
    for _ in range(max(1, steps)):
        s = time.perf_counter()
        step()
        times.append(time.perf_counter() - s)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="256,512")
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--weights", default=default_weights())
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    if not os.path.exists(a.weights):
        sys.exit(f"no weights at {a.weights}: run `stylelearn setup` first")
    net = Vgg(*load_safetensors(a.weights))
    print(f"# torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"mkldnn={torch.backends.mkldnn.is_available()}", file=sys.stderr)
    for s in [int(v) for v in a.sizes.split(",") if v.strip()]:
        t = step_seconds(net, s, a.steps)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        print(f"{s} {t:.4f} {rss:.0f}", flush=True)


if __name__ == "__main__":
    main()
