"""PyTorch reference for the nanogpt-cpu preset: trains nanoGPT's CPU model on tinyshakespeare
(char tokens, 90/10 split, batch 12 x 64, AdamW 1e-3, beta2 0.99, weight decay 0.1 on matrices,
warmup 100 + cosine) for a time budget, and prints tokens/s and the final val loss as JSON.

Run: OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_nanogpt.py [SECONDS]
"""
import json
import math
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "checkpoint"))
from torch_load import GPT  # noqa: E402  the test's nanoGPT-equivalent model

torch.set_num_threads(2)
torch.manual_seed(1337)
budget = float(sys.argv[1]) if len(sys.argv) > 1 else 120.0
text = open(os.path.join(os.path.dirname(__file__), "..", "resources", "tinyshakespeare.txt"), encoding="utf-8").read()
chars = sorted(set(text))
data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
n = int(0.9 * len(data))
train, val = data[:n], data[n:]
c = dict(family="gpt", vocab_size=len(chars), block_size=64, n_layer=4, n_head=4, n_embd=128, mlp_ratio=4, bias=True,
         activation="gelu", norm_position="pre", position_encoding="learned", final_layer_norm=True,
         tie_word_embeddings=True, lm_head_bias=False)
model = GPT(c)
for name, p in model.named_parameters():  # nanoGPT's init
    if name.endswith("c_proj.weight"):
        torch.nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * c["n_layer"]))
    elif p.dim() >= 2:
        torch.nn.init.normal_(p, 0.0, 0.02)
    elif "ln_" not in name:
        torch.nn.init.zeros_(p)
decay = [p for p in model.parameters() if p.dim() >= 2]
no_decay = [p for p in model.parameters() if p.dim() < 2]
opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=1e-3, betas=(0.9, 0.99))
B, T = 12, 64


def batch(d):
    ix = torch.randint(len(d) - T, (B,))
    return torch.stack([d[i:i + T] for i in ix]), torch.stack([d[i + 1:i + T + 1] for i in ix])


def lr_at(it, horizon):
    if it < 100:
        return 1e-3 * (it + 1) / 101
    if it > horizon:
        return 1e-4
    r = (it - 100) / max(1, horizon - 100)
    return 1e-4 + 0.5 * (1 + math.cos(math.pi * r)) * 9e-4


t0 = time.time()
step, horizon = 0, 2000
while time.time() - t0 < budget:
    for g in opt.param_groups:
        g["lr"] = lr_at(step, horizon)
    x, y = batch(train)
    loss = torch.nn.functional.cross_entropy(model(x).view(-1, c["vocab_size"]), y.view(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    step += 1
    horizon = max(100, int(step * budget / (time.time() - t0)))
elapsed = time.time() - t0
model.eval()
with torch.no_grad():
    losses = []
    for _ in range(20):
        x, y = batch(val)
        losses.append(torch.nn.functional.cross_entropy(model(x).view(-1, c["vocab_size"]), y.view(-1)).item())
print(json.dumps({"steps": step, "seconds": round(elapsed, 1), "tokens_per_s": round(step * B * T / elapsed), "val_loss": round(sum(losses) / len(losses), 4), "torch": torch.__version__}))
