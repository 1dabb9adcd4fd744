"""PyTorch reference for `nanolab bench`: trains one of the benchmark models on tinyshakespeare for
a fixed number of steps (after a warm-up) and prints its tokens/s as one JSON line.

  gpt-tiny    nanoGPT's CPU configuration: 4 layers, 4 heads, n_embd 128, context 64, batch 12, AdamW
  lstm-small  a 2x256 LSTM, embedding 64, sequences of 64, batch 32, AdamW

Run: OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_train.py MODEL STEPS
(without those settings PyTorch runs about 2x slower on a 2-core machine).
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "checkpoint"))
from torch_load import GPT, RecurrentLM  # noqa: E402  the same modules the checkpoint test loads

torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "2")))
torch.manual_seed(1337)
name, steps = sys.argv[1], int(sys.argv[2])
text = open(os.path.join(os.path.dirname(__file__), "..", "resources", "tinyshakespeare.txt"), encoding="utf-8").read()
chars = sorted(set(text))
data = torch.tensor([chars.index(c) for c in text], dtype=torch.long)
V = len(chars)
if name == "gpt-tiny":
    c = dict(family="gpt", vocab_size=V, block_size=64, n_layer=4, n_head=4, n_embd=128, mlp_ratio=4, bias=True,
             activation="gelu", norm_position="pre", position_encoding="learned", final_layer_norm=True,
             tie_word_embeddings=True, lm_head_bias=False)
    model, B, T = GPT(c), 12, 64
elif name == "lstm-small":
    c = dict(family="lstm", vocab_size=V, embedding_dim=64, hidden_size=256, num_layers=2, dropout=0.0)
    model, B, T = RecurrentLM(c), 32, 64
else:
    raise SystemExit(f"unknown model {name}: gpt-tiny or lstm-small")
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)


def step():
    ix = torch.randint(len(data) - T - 1, (B,))
    x = torch.stack([data[i:i + T] for i in ix])
    y = torch.stack([data[i + 1:i + T + 1] for i in ix])
    out = model(x)
    logits = out[0] if isinstance(out, tuple) else out
    loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    return loss.item()


for _ in range(3):
    step()
t0 = time.perf_counter()
for _ in range(steps):
    loss = step()
elapsed = time.perf_counter() - t0
print(json.dumps({"model": name, "steps": steps, "seconds": round(elapsed, 3), "tokens_per_s": round(steps * B * T / elapsed, 1), "loss": round(loss, 4), "torch": torch.__version__}))
