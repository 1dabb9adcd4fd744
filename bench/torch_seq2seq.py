"""PyTorch reference for `nanolab bench --models seq2seq-lesson`: the attention lesson's
encoder-decoder (tests/checkpoint/seq2seq_load.py's classes, written independently of NanoLab)
trains on the very batches NanoLab trained on, from NanoLab's initial weights, and decodes the same
sources greedily. Prints one JSON line.

Run: OPENBLAS_NUM_THREADS=2 OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_seq2seq.py REQUEST.json

REQUEST.json (written by the bench): {"export_dir": a NanoLab seq2seq export (model.safetensors
and config.json, loaded with strict=True), "dropout": p, "lr", "grad_clip", "warmup": untimed
steps, "batches": [{"B", "S", "T", "src": B*S ids, "tgt": B*T ids}, ...] (warm-up ones first),
"decode": {"B", "S", "src": B*S ids, "max_new", "trials", "eos_suppression": subtracted from the EOS
logit while decoding is timed} or null}.

Training: teacher forcing (decoder input tgt[:, :-1], targets tgt[:, 1:]), cross-entropy with
ignore_index 0, gradient-norm clip, Adam (betas 0.9, 0.98, eps 1e-9). Speed counts target tokens
(padding excluded), as NanoLab does. Decoding: the lesson's greedy loop, batched: the encoder
once, then each step re-runs the decoder on the whole prefix (the lesson's module has no cache)
for the rows still running; speed counts generated tokens (up to and including EOS).
"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "checkpoint"))
from seq2seq_load import Transformer, load_safetensors  # noqa: E402  the same module the export test loads

torch.set_num_threads(int(os.environ.get("OPENBLAS_NUM_THREADS", "2")))
torch.manual_seed(1337)
request = json.load(open(sys.argv[1], encoding="utf-8"))
folder = request["export_dir"]
with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
    c = json.load(f)
c["dropout"] = request["dropout"]
model = Transformer(c)
model.load_state_dict(load_safetensors(os.path.join(folder, "model.safetensors")), strict=True)
pad = c["pad_id"]
opt = torch.optim.Adam(model.parameters(), lr=request["lr"], betas=(0.9, 0.98), eps=1e-9)
batches = [
    (torch.tensor(b["src"], dtype=torch.long).view(b["B"], b["S"]), torch.tensor(b["tgt"], dtype=torch.long).view(b["B"], b["T"]))
    for b in request["batches"]
]


def decode(d):
    """Batched greedy decoding; returns how many tokens it generated (EOS included), and each row's."""
    model.eval()
    src = torch.tensor(d["src"], dtype=torch.long).view(d["B"], d["S"])
    generated = 0
    with torch.no_grad():
        src_mask = model.create_padding_mask(src)
        enc = model.encoder(src, src_mask)
        ids = torch.full((d["B"], 1), c["bos_id"], dtype=torch.long)
        running = torch.arange(d["B"])
        for _ in range(d["max_new"]):
            tgt = ids[running]
            tgt_mask = model.create_look_ahead_mask(tgt.size(1)).unsqueeze(0).unsqueeze(0)
            logits = model.final_layer(model.decoder(tgt, enc[running], src_mask[running], tgt_mask))[:, -1]
            nxt = torch.full((d["B"],), pad, dtype=torch.long)
            nxt[running] = logits.argmax(-1)
            ids = torch.cat([ids, nxt.unsqueeze(1)], 1)
            generated += len(running)
            running = running[nxt[running] != c["eos_id"]]
            if len(running) == 0:
                break
    model.train()
    rows = []
    for row in ids[:, 1:].tolist():  # the generated ids, up to and including EOS
        rows.append(row[: row.index(c["eos_id"]) + 1] if c["eos_id"] in row else row)
    return generated, rows


result = {"torch": torch.__version__}
if request.get("decode"):
    # as on NanoLab's side: the EOS logit held down while decoding is timed, so every row runs max_new steps
    bias = model.final_layer.bias
    saved = bias.detach().clone()
    with torch.no_grad():
        bias[c["eos_id"]] -= request["decode"].get("eos_suppression", 0)
    decode(request["decode"])  # warm-up
    s = float("inf")
    for _ in range(request["decode"].get("trials", 1)):  # the fastest counts
        t0 = time.perf_counter()
        n, rows = decode(request["decode"])
        s = min(s, time.perf_counter() - t0)
    with torch.no_grad():
        bias.copy_(saved)
    result.update(decoded=rows, decode_tokens=n, decode_seconds=round(s, 4), decode_tokens_per_s=round(n / s, 1))

model.train()
tokens, t0 = 0, None
for i, (src, tgt) in enumerate(batches):
    if i == request["warmup"]:
        t0 = time.perf_counter()
    target = tgt[:, 1:]
    logits = model(src, tgt[:, :-1])
    loss = F.cross_entropy(logits.reshape(-1, logits.size(-1)), target.reshape(-1), ignore_index=pad)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if request["grad_clip"] > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), request["grad_clip"])
    opt.step()
    last = loss.item()
    if i >= request["warmup"]:
        tokens += int((target != pad).sum())
elapsed = time.perf_counter() - t0
steps = len(batches) - request["warmup"]
result.update(steps=steps, seconds=round(elapsed, 3), tokens=tokens, tokens_per_s=round(tokens / elapsed, 1), loss=round(last, 4))
print(json.dumps(result))
