#!/usr/bin/env python3
"""bench_torch.py: the PyTorch side of the training benchmark — the network of docs/model.md built
from stock PyTorch (CPU) at the same shapes as `spectral bench train`, timed the same way.

Blocks: x = E[tok] + P[pos]; per layer x += Mixer(RMSNorm(x)), x += MLP(RMSNorm(x)) with a
GELU-tanh MLP (hidden = 4d, biases); final RMSNorm; logits = x · Eᵀ (tied); mean cross-entropy.
Mixers: attention (causal, explicit masked softmax: torch 1.13 has no scaled_dot_product_attention),
fft (torch.fft.rfft/irfft with n = 2T zero padding, learned time-domain kernel, skip D, gate),
rot (the seed's lowrank form: θ = Wθ·x of width d/4, φ = Wφ·x viewed (L, d/4), the level loop
with shifts 1, 2, 4, …). Step: forward, zero_grad, backward, clip_grad_norm_(1.0), AdamW
(lr 3e-3, betas 0.9/0.99, weight decay 0.1 on matrices) — the step spectral's trainer takes.

usage: bench_torch.py [--mixers attention,fft,rot] [--V 65] [--d 128] [--layers 4] [--heads 4]
                      [--T 256] [--B 16] [--steps 20] [--warmup 3] [--threads 2] [--csv FILE]
Needs Debian's python3-torch (1.13, CPU): apt-get install -y python3-torch. A benchmark
dependency only; nothing in the build or the tests uses it.
"""
import argparse
import math
import os
import platform
import statistics
import sys
import time

try:
    import torch
except ImportError:
    # Debian's python3-torch belongs to the system interpreter; a pyenv/venv python3 first on
    # PATH does not see it
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit("bench_torch.py: PyTorch is not installed (apt-get install -y python3-torch)")
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def machine_line(threads):
    cpu = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        with open("/proc/loadavg") as f:
            load = " ".join(f.read().split()[:3])
    except OSError:
        load = "?"
    return (f"machine: nproc {os.cpu_count()}, {cpu}, threads {threads}, load average {load}; "
            f"torch {torch.__version__}")


class RMSNorm(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class MLP(nn.Module):
    def __init__(self, d, hidden):
        super().__init__()
        self.fc1 = nn.Linear(d, hidden)
        self.fc2 = nn.Linear(hidden, d)

    def forward(self, x):
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class Attention(nn.Module):
    def __init__(self, d, heads, T):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.out = nn.Linear(d, d, bias=False)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def forward(self, x):
        B, T, d = x.shape
        hs = d // self.h
        q, k, v = self.qkv(x).split(d, dim=-1)
        q = q.view(B, T, self.h, hs).transpose(1, 2)
        k = k.view(B, T, self.h, hs).transpose(1, 2)
        v = v.view(B, T, self.h, hs).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hs))
        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
        att = torch.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, d)
        return self.out(y)


class FftMixer(nn.Module):
    def __init__(self, d, T):
        super().__init__()
        self.w_in = nn.Linear(d, d, bias=False)
        self.w_gate = nn.Linear(d, d, bias=False)
        self.w_out = nn.Linear(d, d, bias=False)
        # kernel init as spectral's: N(0, 0.3²) taps under per-channel decays spread log-uniformly
        rates = 0.005 * (0.5 / 0.005) ** torch.linspace(0, 1, d)
        s = torch.arange(T, dtype=torch.float32)
        self.kernel = nn.Parameter(0.3 * torch.randn(d, T) * torch.exp(-rates[:, None] * s[None, :]))
        self.d_skip = nn.Parameter(torch.ones(d))

    def forward(self, x):
        B, T, d = x.shape
        n = 2 * T
        u = self.w_in(x)
        uf = torch.fft.rfft(u.transpose(1, 2), n=n)          # (B, d, n/2+1)
        kf = torch.fft.rfft(self.kernel[:, :T], n=n)          # (d, n/2+1)
        y = torch.fft.irfft(uf * kf, n=n)[..., :T].transpose(1, 2) + u * self.d_skip
        return self.w_out(self.w_gate(x) * y)


class RotLowRank(nn.Module):
    def __init__(self, d, T):
        super().__init__()
        self.r = d // 4
        self.levels = (T - 1).bit_length()
        self.w_theta = nn.Linear(d, self.r, bias=False)
        self.w_phi = nn.Linear(d, self.levels * self.r, bias=False)
        self.w_out = nn.Linear(self.r, d, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        theta = self.w_theta(x)
        phi = self.w_phi(x).view(B, T, self.levels, self.r)
        for l in range(self.levels):
            s = 1 << l
            shifted = F.pad(theta[:, : T - s], (0, 0, s, 0)) if s < T else torch.zeros_like(theta)
            p = phi[:, :, l]
            theta = torch.cos(p) * theta + torch.sin(p) * shifted
        return self.w_out(theta)


class Block(nn.Module):
    def __init__(self, mixer, d, heads, T, mlp_ratio):
        super().__init__()
        self.ln1 = RMSNorm(d)
        self.mixer = {"attention": lambda: Attention(d, heads, T), "fft": lambda: FftMixer(d, T),
                      "rot": lambda: RotLowRank(d, T)}[mixer]()
        self.ln2 = RMSNorm(d)
        self.mlp = MLP(d, mlp_ratio * d)

    def forward(self, x):
        x = x + self.mixer(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Net(nn.Module):
    def __init__(self, mixer, V, d, layers, heads, T, mlp_ratio):
        super().__init__()
        self.wte = nn.Embedding(V, d)
        nn.init.normal_(self.wte.weight, std=0.02)
        self.wpe = nn.Parameter(0.02 * torch.randn(T, d))
        self.blocks = nn.ModuleList([Block(mixer, d, heads, T, mlp_ratio) for _ in range(layers)])
        self.lnf = RMSNorm(d)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe[:T]
        for b in self.blocks:
            x = b(x)
        logits = self.lnf(x) @ self.wte.weight.t()
        return F.cross_entropy(logits.view(B * T, -1), targets.view(B * T))


def bench(mixer, a):
    torch.manual_seed(1)
    model = Net(mixer, a.V, a.d, a.layers, a.heads, a.T, a.mlp_ratio)
    # weight decay on matrices (Linear weights, the embedding), as spectral: not on norms, biases,
    # positions, the fft kernel or its skip
    decay, rest = [], []
    for name, p in model.named_parameters():
        is_matrix = p.dim() == 2 and not name.endswith("wpe") and not name.endswith("kernel")
        (decay if is_matrix else rest).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                            lr=3e-3, betas=(0.9, 0.99), eps=1e-8)
    n_params = sum(p.numel() for p in model.parameters())
    times = []
    loss = None
    for step in range(a.warmup + a.steps):
        x = torch.randint(0, a.V, (a.B, a.T))
        y = torch.randint(0, a.V, (a.B, a.T))
        t0 = time.perf_counter()
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        t1 = time.perf_counter()
        if step >= a.warmup:
            times.append(t1 - t0)
    med = statistics.median(times)
    return {"mixer": mixer, "params": n_params, "ms_per_step": 1e3 * med,
            "tokens_per_s": a.B * a.T / med, "mean_tokens_per_s": a.B * a.T / statistics.mean(times),
            "loss": float(loss)}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mixers", default="attention,fft,rot")
    p.add_argument("--V", type=int, default=65)
    p.add_argument("--d", type=int, default=128)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--T", type=int, default=256)
    p.add_argument("--B", type=int, default=16)
    p.add_argument("--mlp-ratio", type=int, default=4)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="0 = all cores")
    p.add_argument("--csv", default="")
    a = p.parse_args()
    threads = a.threads if a.threads > 0 else os.cpu_count()
    torch.set_num_threads(threads)
    print(machine_line(threads))
    print(f"bench_torch: V={a.V}, d={a.d}, layers={a.layers}, heads={a.heads}, T={a.T}, B={a.B}; "
          f"{a.warmup} warm-up steps, {a.steps} timed (median); step = forward + zero_grad + backward + "
          f"clip + AdamW")
    rows = []
    for m in [s for s in a.mixers.split(",") if s]:
        if m not in ("attention", "fft", "rot"):
            sys.exit(f"bench_torch.py: unknown mixer {m!r} (attention, fft, rot)")
        r = bench(m, a)
        rows.append(r)
        print(f"  {m:<10} {r['tokens_per_s']:9.0f} tokens/s  {r['ms_per_step']:8.1f} ms/step  "
              f"(mean {r['mean_tokens_per_s']:.0f} tokens/s; {r['params']} parameters, last loss {r['loss']:.3f})",
              flush=True)
    if a.csv:
        with open(a.csv, "w") as f:
            f.write("mixer,tokens_per_s,ms_per_step,threads,torch\n")
            for r in rows:
                f.write(f"{r['mixer']},{r['tokens_per_s']:.6g},{r['ms_per_step']:.6g},{threads},{torch.__version__}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
