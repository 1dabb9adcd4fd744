"""Loads a NanoLab checkpoint folder in PyTorch and prints the logits for the given input ids.

Usage: python3 torch_load.py CHECKPOINT_DIR '[[ids of row 0], [ids of row 1], ...]'

The model definitions here are written for this test from PyTorch's own modules (nn.LSTM, nn.GRU,
nn.RNN; a nanoGPT-style GPT); the safetensors file is parsed by hand (Debian has no
python3-safetensors). The state dict is loaded with strict=True, so every name and shape must match.
"""
import json
import math
import struct
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    base = 8 + n
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        data = torch.frombuffer(bytearray(raw[base + begin : base + end]), dtype=torch.float32)
        out[name] = data.reshape(entry["shape"]).clone()
    return out


class RecurrentLM(nn.Module):
    def __init__(self, c):
        super().__init__()
        cell = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[c["family"]]
        self.embedding = nn.Embedding(c["vocab_size"], c["embedding_dim"])
        self.rnn = cell(c["embedding_dim"], c["hidden_size"], num_layers=c["num_layers"], batch_first=True)
        self.head = nn.Linear(c["hidden_size"], c["vocab_size"])

    def forward(self, idx):
        out, _ = self.rnn(self.embedding(idx))
        return self.head(out)


class CausalSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["n_embd"]
        self.n_head = c["n_head"]
        self.c_attn = nn.Linear(C, 3 * C, bias=c["bias"])
        self.c_proj = nn.Linear(C, C, bias=c["bias"])

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.c_attn(x).split(C, dim=2)
        hd = C // self.n_head
        q, k, v = (t.view(B, T, self.n_head, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hd)
        mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["n_embd"]
        hidden = int(c["mlp_ratio"] * C)
        self.c_fc = nn.Linear(C, hidden, bias=c["bias"])
        self.c_proj = nn.Linear(hidden, C, bias=c["bias"])
        self.act = nn.GELU() if c["activation"] == "gelu" else nn.ReLU()

    def forward(self, x):
        return self.c_proj(self.act(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pre = c["norm_position"] == "pre"
        self.ln_1 = nn.LayerNorm(c["n_embd"])
        self.attn = CausalSelfAttention(c)
        self.ln_2 = nn.LayerNorm(c["n_embd"])
        self.mlp = MLP(c)

    def forward(self, x):
        if self.pre:
            x = x + self.attn(self.ln_1(x))
            return x + self.mlp(self.ln_2(x))
        x = self.ln_1(x + self.attn(x))
        return self.ln_2(x + self.mlp(x))


class GPT(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, V = c["n_embd"], c["vocab_size"]
        parts = dict(wte=nn.Embedding(V, C), h=nn.ModuleList([Block(c) for _ in range(c["n_layer"])]))
        if c["position_encoding"] == "learned":
            parts["wpe"] = nn.Embedding(c["block_size"], C)
        else:
            pos = torch.arange(c["block_size"], dtype=torch.float64)[:, None]
            i2 = torch.arange(0, C, 2, dtype=torch.float64)
            angle = pos / torch.pow(10000.0, i2 / C)
            pe = torch.zeros(c["block_size"], C, dtype=torch.float64)
            pe[:, 0::2] = torch.sin(angle)
            pe[:, 1::2] = torch.cos(angle)
            self.register_buffer("pe", pe.float(), persistent=False)
        if c["final_layer_norm"]:
            parts["ln_f"] = nn.LayerNorm(C)
        self.transformer = nn.ModuleDict(parts)
        self.tied = c["tie_word_embeddings"]
        self.lm_head = nn.Linear(C, V, bias=(not self.tied) and c["lm_head_bias"])
        if self.tied:
            self.lm_head.weight = self.transformer.wte.weight

    def forward(self, idx):
        T = idx.shape[1]
        pos = self.transformer.wpe(torch.arange(T)) if "wpe" in self.transformer else self.pe[:T]
        x = self.transformer.wte(idx) + pos
        for block in self.transformer.h:
            x = block(x)
        if "ln_f" in self.transformer:
            x = self.transformer.ln_f(x)
        return self.lm_head(x)


def main():
    folder, ids = sys.argv[1], json.loads(sys.argv[2])
    with open(f"{folder}/config.json") as f:
        config = json.load(f)
    c = config["model"]
    model = GPT(c) if c["family"] == "gpt" else RecurrentLM(c)
    state = load_safetensors(f"{folder}/model.safetensors")
    for alias, source in config.get("tied_params", {}).items():
        state[alias] = state[source]
    model.load_state_dict(state, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(torch.tensor(ids, dtype=torch.long))
    print(json.dumps({"torch": torch.__version__, "shape": list(logits.shape), "logits": logits.flatten().tolist()}))


if __name__ == "__main__":
    main()
