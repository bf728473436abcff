#!/usr/bin/env python3
"""PyTorch peer of `mote bench --only train` (src/bench/train.ts): the same training step, timed the same way.

Configuration (defaults = the 'bench-256' preset of src/model/config.ts and the defaults of src/experts/config.ts
and src/train/config.ts): a Llama decoder, d = 256, 4 layers, 8 heads, 8 kv heads, SwiGLU hidden 688, vocab
512, RMSNorm eps 1e-5, RoPE theta 10000 with llama2.c's (2i, 2i+1) pairing, head tied to the embedding; random
frozen base (normal 0.02, o/down scaled by 1/sqrt(2 layers), norms 1); seq 256, batch 8. LoRA rank 16 on every
linear (q, k, v, o, gate, up, down), A Kaiming-uniform, B zero, scaling loraAlpha / r = 1:

    mote:  y = W0 x + alpha * E_step(x) + (1 - alpha) * E_shared(x),  alpha = 0.5, 3 step experts + 1 shared
    lora:  y = W0 x + E(x)

Routing is hard, by token step: each row is question / analysis / guidance / answer, a quarter each (as
syntheticChains in src/bench/train.ts), question tokens go to a step expert drawn per row and step. Loss:
next-token cross-entropy averaged over the non-question targets (the masked mean of src/model/loss.ts). AdamW
(lr 1e-4, betas 0.9/0.999, eps 1e-8, weight decay 0.01), cosine schedule, gradient clipping at global norm 1.0,
loss and norm read back every step (ours does too, for its finiteness check). One thread unless --threads.

How the MoTE mixing is done here (--mix):
  gather (default): the step experts' factors are stacked, A (in, 4r) and B (4r, out), shared last. Each token
    uses exactly two LoRAs, its step expert and the shared one, which together are one rank-2r LoRA with the
    column weights [alpha*s]*r ++ [(1-alpha)*s]*r. So per step expert e: index_select the rows routed to e, one
    (n_e, in) x (in, 2r) and one (n_e, 2r) x (2r, out) matmul, and index_add_ into the base output. The row
    indices are computed once per step and shared by all 28 linears. Only the FLOPs MoTE needs, plus one
    gather and one scatter of the routed rows.
  dense: one (N, in) x (in, 4r) matmul for all experts, times a per-token (N, 4r) weight mask (alpha*s on the
    token's expert, 0 on the other step experts, (1-alpha)*s on the shared one), then one (N, 4r) x (4r, out)
    matmul. No gathers, but twice the LoRA FLOPs of gather.
--mix auto (default) times one forward + backward of a MoTE gate projection at the run's shape with each, three
times interleaved, and keeps the faster (best of three); the record says which and the times.

The record also carries what PyTorch's matmuls run on: its BLAS (from torch.__config__ and, on Linux, the
libblas actually mapped) and the GFLOP/s of the matmul ours measures for its MFU, (2048 x 512)(512 x 512).
Debian's python3-torch links the generic libblas.so.3, which is netlib's reference BLAS unless an optimised
one (libopenblas0-pthread) is installed: then PyTorch's matmuls are an order of magnitude slow, and the
record says so in "warning".

Prints one JSON line per variant, {"bench": "train-peer", "framework": "pytorch", ...}, then
{"bench": "train-peer-experts-ratio", "moteOverLora": ...} when both variants ran. Needs only torch (>= 1.13).
"""

import argparse
import json
import math
import os
import platform
import re
import resource
import statistics
import sys
import time


def _threads_from_argv(argv):
    for i, arg in enumerate(argv):
        if arg == "--threads" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--threads="):
            return arg.split("=", 1)[1]
    return "1"


# BLAS thread pools read these when the library loads, before torch.set_num_threads can reach them.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, _threads_from_argv(sys.argv))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

STEPS = 3  # step experts: analysis, guidance, answer


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--heads", type=int, default=8)
    p.add_argument("--kv-heads", type=int, default=None, help="default: --heads")
    p.add_argument("--hidden", type=int, default=None, help="default: 8*dim/3 rounded up to 16 (688 at 256)")
    p.add_argument("--vocab", type=int, default=512)
    p.add_argument("--norm-eps", type=float, default=1e-5)
    p.add_argument("--rope-theta", type=float, default=10000.0)
    p.add_argument("--seq", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--lora-alpha", type=float, default=None, help="default: --rank (scaling 1)")
    p.add_argument("--alpha", type=float, default=0.5, help="weight of the step expert; shared gets 1 - alpha")
    p.add_argument("--experts", default="mote,lora", help="comma list of mote, lora")
    p.add_argument(
        "--mix",
        choices=["auto", "gather", "dense"],
        default="auto",
        help="MoTE mixing (see the module doc); auto times both on one layer first and keeps the faster",
    )
    p.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    p.add_argument("--steps", type=int, default=3, help="timed steps (median reported)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--weight-decay", type=float, default=0.01)
    p.add_argument("--clip", type=float, default=1.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--qkv-bias", action="store_true", help="q, k and v projections have (frozen) biases (Qwen2)")
    p.add_argument("--name", default=None, help="model name for the record (default: bench-256 or custom)")
    a = p.parse_args(argv)
    a.kv_heads = a.kv_heads or a.heads
    a.hidden = a.hidden or 16 * math.ceil(8 * a.dim / 3 / 16)
    a.lora_alpha = a.lora_alpha if a.lora_alpha is not None else float(a.rank)
    return a


class Route:
    """Per-step routing shared by every linear: expert id per token (0..2), and what each --mix needs."""

    def __init__(self, expert, rank, alpha, scaling, mix):
        self.expert = expert  # (N,) int64
        if mix == "gather":
            self.index = [torch.nonzero(expert == e).flatten() for e in range(STEPS)]
        else:
            onehot = F.one_hot(expert, STEPS).to(torch.float32).repeat_interleave(rank, 1)  # (N, 3r)
            shared = torch.ones(expert.shape[0], rank)  # (N, r)
            self.weights = torch.cat([alpha * scaling * onehot, (1 - alpha) * scaling * shared], 1)  # (N, 4r)


class AdaptedLinear(torch.nn.Module):
    """Frozen W0 plus LoRA: kind 'lora' (one adapter) or 'mote' (3 step experts + shared, stacked)."""

    def __init__(self, w0, kind, rank, lora_alpha, alpha, mix, gen, bias=None):
        super().__init__()
        out_f, in_f = w0.shape
        self.register_buffer("weight", w0)  # frozen base, (out, in) as F.linear wants
        self.register_buffer("bias", bias)  # frozen (out,) or None
        self.kind, self.rank, self.alpha, self.mix = kind, rank, alpha, mix
        self.scaling = lora_alpha / rank
        n = 1 if kind == "lora" else STEPS + 1
        bound = 1 / math.sqrt(in_f)  # kaiming_uniform_(a=sqrt(5)), as PEFT and src/experts/lora.ts
        self.A = torch.nn.Parameter((torch.rand(in_f, n * rank, generator=gen) * 2 - 1) * bound)  # (in, n*r)
        self.B = torch.nn.Parameter(torch.zeros(n * rank, out_f))  # (n*r, out)
        r = rank
        s = self.scaling
        self.register_buffer("pair_weights", torch.tensor([alpha * s] * r + [(1 - alpha) * s] * r))  # (2r,)
        self.route = None  # set per step (see set_route)

    def forward(self, x):  # x (N, in)
        y = F.linear(x, self.weight, self.bias)  # (N, out)
        if self.kind == "lora":
            return y + (x @ self.A) @ self.B * self.scaling
        r, route = self.rank, self.route
        if self.mix == "dense":
            return y + ((x @ self.A) * route.weights) @ self.B
        A_shared, B_shared = self.A[:, STEPS * r :], self.B[STEPS * r :]
        for e, idx in enumerate(route.index):
            if idx.numel() == 0:
                continue
            A = torch.cat([self.A[:, e * r : (e + 1) * r], A_shared], 1)  # (in, 2r)
            B = torch.cat([self.B[e * r : (e + 1) * r], B_shared], 0)  # (2r, out)
            h = (x.index_select(0, idx) @ A) * self.pair_weights  # (n_e, 2r)
            y.index_add_(0, idx, h @ B)  # the matmul's backward does not need y, so in place is safe
        return y


def rope_tables(hs, T, theta):
    freq = 1.0 / theta ** (torch.arange(0, hs, 2, dtype=torch.float32) / hs)  # (hs/2,)
    ang = torch.arange(T, dtype=torch.float32)[:, None] * freq[None, :]  # (T, hs/2)
    return torch.cos(ang), torch.sin(ang)


def rope(x, cos, sin):
    """llama2.c pairing: dims (2i, 2i+1) of each head rotate together. x (B, H, T, hs)."""
    x0, x1 = x[..., 0::2], x[..., 1::2]  # (B, H, T, hs/2)
    return torch.stack([x0 * cos - x1 * sin, x0 * sin + x1 * cos], -1).flatten(-2)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


class Model(torch.nn.Module):
    def __init__(self, a, kind, gen):
        super().__init__()
        self.a = a
        d, hd, L = a.dim, a.hidden, a.layers
        self.hs = d // a.heads
        kv = self.hs * a.kv_heads
        std, res_std = 0.02, 0.02 / math.sqrt(2 * L)

        def lin(i, o, s=std, bias=False):
            w0 = torch.randn(o, i, generator=gen) * s
            b = torch.randn(o, generator=gen) * s if bias else None
            return AdaptedLinear(w0, kind, a.rank, a.lora_alpha, a.alpha, a.mix, gen, b)

        self.register_buffer("embedding", torch.randn(a.vocab, d, generator=gen) * std)
        self.register_buffer("norm_w", torch.ones(d))  # every RMSNorm gain is 1 and frozen
        self.blocks = torch.nn.ModuleList()
        for _ in range(L):
            blk = torch.nn.ModuleDict(
                {
                    "q": lin(d, d, bias=a.qkv_bias),
                    "k": lin(d, kv, bias=a.qkv_bias),
                    "v": lin(d, kv, bias=a.qkv_bias),
                    "o": lin(d, d, res_std),
                    "gate": lin(d, hd),
                    "up": lin(d, hd),
                    "down": lin(hd, d, res_std),
                }
            )
            self.blocks.append(blk)
        cos, sin = rope_tables(self.hs, a.seq, a.rope_theta)
        self.register_buffer("cos", cos)
        self.register_buffer("sin", sin)
        self.register_buffer("causal", torch.full((a.seq, a.seq), -1e9).triu(1))  # (T, T), as MASKED in attention.ts

    def set_route(self, route):
        for m in self.modules():
            if isinstance(m, AdaptedLinear):
                m.route = route

    def forward(self, ids):  # ids (B, T) -> logits (B*T, V)
        a = self.a
        B, T = ids.shape
        nh, nkv, hs = a.heads, a.kv_heads, self.hs
        x = self.embedding[ids.flatten()]  # (N, d)
        for blk in self.blocks:
            h = rms_norm(x, self.norm_w, a.norm_eps)
            q = blk["q"](h).view(B, T, nh, hs).transpose(1, 2)  # (B, nh, T, hs)
            k = blk["k"](h).view(B, T, nkv, hs).transpose(1, 2)  # (B, nkv, T, hs)
            v = blk["v"](h).view(B, T, nkv, hs).transpose(1, 2)
            q, k = rope(q, self.cos[:T], self.sin[:T]), rope(k, self.cos[:T], self.sin[:T])
            if nkv != nh:
                k, v = k.repeat_interleave(nh // nkv, 1), v.repeat_interleave(nh // nkv, 1)
            att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(hs)) + self.causal[:T, :T]  # (B, nh, T, T)
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B * T, nh * hs)  # (N, d)
            x = x + blk["o"](y)
            h = rms_norm(x, self.norm_w, a.norm_eps)
            x = x + blk["down"](F.silu(blk["gate"](h)) * blk["up"](h))
        x = rms_norm(x, self.norm_w, a.norm_eps)
        return x @ self.embedding.t()  # tied head, (N, V)


def synthetic(a, n, gen):
    """n rows of T + 1 random ids; stage per position (0 question, 1..3 analysis/guidance/answer); loss mask."""
    T, q = a.seq, a.seq // 4
    tokens = torch.randint(0, a.vocab, (n, T + 1), generator=gen)
    stage = torch.clamp(torch.arange(T) // q, max=3)  # (T,)
    next_stage = torch.cat([stage[1:], stage[-1:]])
    mask = (next_stage > 0).to(torch.float32)  # loss on targets that are not question tokens
    return tokens, stage, mask


def peak_rss_mb(rss_now):
    """Peak resident set, MB. The kernel's high-water mark (ru_maxrss) is synced from per-thread counters lazily,
    so it can read a page or two below /proc's current figure: the peak is at least what was just read."""
    peak = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return max(peak, rss_now) if rss_now is not None else peak


def rss_mb():
    """Resident set now (Linux /proc/self/statm), MB; None elsewhere."""
    try:
        with open("/proc/self/statm") as f:
            return round(int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20)
    except (OSError, ValueError):
        return None


def blas_info():
    """BLAS_INFO of the build, and the libblas/openblas/mkl file this process actually mapped (Linux)."""
    m = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    mapped = None
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if re.search(r"(blas|mkl)[^/]*\.so", line)}
        mapped = sorted(os.path.realpath(lib) for lib in libs) or None
    except OSError:
        pass
    return (m.group(1) if m else None), mapped


def matmul_gflops():
    """(2048 x 512)(512 x 512): median of 5 after 2 warm-ups, as matmulRate in src/bench/train.ts."""
    M, K, N = 2048, 512, 512
    x, w = torch.randn(M, K), torch.randn(K, N)
    times = []
    for i in range(7):
        t0 = time.perf_counter()
        x @ w
        if i >= 2:
            times.append(time.perf_counter() - t0)
    return 2 * M * K * N / statistics.median(times) / 1e9


def pick_mix(a, gen):
    """Times one MoTE gate projection (fwd + bwd) with each mix, interleaved; returns the faster and the times."""
    N = a.batch * a.seq
    x = torch.randn(N, a.dim, generator=gen, requires_grad=True)
    expert = torch.randint(0, STEPS, (N,), generator=gen)
    w0 = torch.randn(a.hidden, a.dim, generator=gen) * 0.02
    best = {}
    for _ in range(3):
        for mix in ("gather", "dense"):
            layer = AdaptedLinear(w0, "mote", a.rank, a.lora_alpha, a.alpha, mix, gen)
            torch.nn.init.normal_(layer.B, std=0.02)
            t0 = time.perf_counter()
            layer.route = Route(expert, a.rank, a.alpha, a.lora_alpha / a.rank, mix)
            layer(x).square().sum().backward()
            best[mix] = min(best.get(mix, math.inf), (time.perf_counter() - t0) * 1000)
    return min(best, key=best.get), {k: round(v, 2) for k, v in best.items()}


def run_variant(a, kind):
    gen = torch.Generator().manual_seed(a.seed)
    model = Model(a, kind, gen)
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=a.lr, betas=(0.9, 0.999), eps=1e-8, weight_decay=a.weight_decay)
    total = a.warmup + a.steps
    tokens, stage, mask = synthetic(a, a.batch * total, gen)
    times, cpu_times, loss_value = [], [], float("nan")
    for step in range(total):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = tokens[step * a.batch : (step + 1) * a.batch]
        ids, targets = rows[:, :-1], rows[:, 1:].flatten()
        if kind == "mote":
            question = torch.randint(0, STEPS, (a.batch, 1), generator=gen)  # a step expert per row
            expert = torch.where(stage[None, :] == 0, question, stage[None, :] - 1).flatten()  # (N,)
            model.set_route(Route(expert, a.rank, a.alpha, a.lora_alpha / a.rank, a.mix))
        lr = a.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / total)))  # cosine to 0.1 of the peak
        for g in opt.param_groups:
            g["lr"] = lr
        nll = F.cross_entropy(model(ids), targets, reduction="none")  # (N,)
        m = mask.repeat(a.batch)
        loss = (nll * m).sum() / m.sum().clamp(min=1)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(params, a.clip)
        loss_value, norm_value = loss.item(), norm.item()
        if not (math.isfinite(loss_value) and math.isfinite(norm_value)):
            raise FloatingPointError(f"non-finite loss {loss_value} or grad norm {norm_value} at step {step}")
        opt.step()
        times.append((time.perf_counter() - t0) * 1000)
        cpu_times.append((time.process_time() - c0) * 1000)
    timed = sorted(times[a.warmup :])
    cpu_timed = sorted(cpu_times[a.warmup :]) or sorted(cpu_times)
    ms = timed[len(timed) // 2] if timed else statistics.median(times)  # upper median, as ours
    rss_now = rss_mb()
    return {
        "bench": "train-peer",
        "framework": "pytorch",
        "version": torch.__version__,
        "python": platform.python_version(),
        "threads": torch.get_num_threads(),
        "model": a.name or ("bench-256" if (a.dim, a.layers, a.hidden, a.vocab) == (256, 4, 688, 512) else "custom"),
        "experts": kind,
        "mix": a.mix if kind == "mote" else None,
        "mixProbeMs": getattr(a, "mix_probe_ms", None) if kind == "mote" else None,
        "dim": a.dim,
        "layers": a.layers,
        "seq": a.seq,
        "batch": a.batch,
        "rank": a.rank,
        "warmup": a.warmup,
        "timedSteps": a.steps,
        "trainableParams": sum(p.numel() for p in params),
        "msPerStep": round(ms, 2),
        "msRange": [round(timed[0], 2), round(timed[-1], 2)] if timed else None,
        "cpuMsPerStep": round(cpu_timed[len(cpu_timed) // 2], 2),  # process CPU time: leaves out other processes'
        "rssMB": rss_now,
        "peakRssMB": peak_rss_mb(rss_now),
        "tokensPerSec": round(a.batch * a.seq * 1000 / ms, 1),
        "loss": round(loss_value, 4),
        "blas": a.blas,
        "blasLibrary": a.blas_library,
        "matmulGflops": a.matmul_gflops,
        **({"warning": a.blas_warning} if a.blas_warning else {}),
    }


def main(argv=None):
    a = parse_args(argv)
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process
    torch.manual_seed(a.seed)
    kinds = [k for k in a.experts.split(",") if k]
    bad = [k for k in kinds if k not in ("mote", "lora")]
    if bad:
        sys.exit(f"train_peer.py: unknown --experts {','.join(bad)} (use mote, lora)")
    a.blas, mapped = blas_info()
    a.blas_library = mapped[0] if mapped and len(mapped) == 1 else mapped
    a.matmul_gflops = round(matmul_gflops(), 3)
    # Debian's netlib reference BLAS lives in .../blas/; OpenBLAS's libblas.so.3 in .../openblas-pthread/
    reference = any(os.path.basename(os.path.dirname(lib)) == "blas" for lib in mapped or [])
    a.blas_warning = (
        f"PyTorch's matmuls run on the reference BLAS ({a.blas_library}, {a.matmul_gflops} GFLOP/s): "
        "install an optimised one (Debian: apt-get install libopenblas0-pthread) for a fair peer"
        if a.blas == "generic" and reference
        else None
    )
    if "mote" in kinds and a.mix == "auto":
        a.mix, a.mix_probe_ms = pick_mix(a, torch.Generator().manual_seed(a.seed + 1))
    records = {}
    for kind in kinds:
        records[kind] = run_variant(a, kind)
        print(json.dumps(records[kind]), flush=True)
    if "mote" in records and "lora" in records:
        ratio = records["mote"]["msPerStep"] / records["lora"]["msPerStep"]
        print(json.dumps({"bench": "train-peer-experts-ratio", "framework": "pytorch", "moteOverLora": round(ratio, 4)}))


if __name__ == "__main__":
    main()
