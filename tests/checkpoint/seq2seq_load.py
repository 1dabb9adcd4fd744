"""Loads a NanoLab seq2seq export into the attention lesson's own module tree and runs it.

Usage: python3 seq2seq_load.py EXPORT_DIR '{"src": [[...], ...], "tgt": [[...], ...], "max_new": 8}'

`src` rows (B, S) and `tgt` rows (B, T) are padded with pad_id; the teacher-forced logits are
those of decoder input tgt[:, :-1] (B, T-1, V_tgt). Greedy decoding runs each source row with its
padding removed: from BOS, append the argmax until EOS or max_new tokens.

The classes below are written for this test independently of NanoLab, as the lesson writes them
(MultiHeadAttention with W_q/W_k/W_v/W_o, PositionWiseFeedForward fc1/fc2 with ReLU,
PositionalEncoding with a registered `pe` buffer, post-LN Add & Norm, embeddings times
sqrt(d_model), masks with 1 = masked added as mask * -1e9), built from config.json alone. The
safetensors file is parsed by hand (Debian has no python3-safetensors); the state dict is loaded
with strict=True, so every name, shape and buffer must match.
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


class MultiHeadAttention(nn.Module):
    def __init__(self, d_model, num_heads):
        super().__init__()
        assert d_model % num_heads == 0
        self.d_model = d_model
        self.num_heads = num_heads
        self.d_k = d_model // num_heads
        self.W_q = nn.Linear(d_model, d_model)
        self.W_k = nn.Linear(d_model, d_model)
        self.W_v = nn.Linear(d_model, d_model)
        self.W_o = nn.Linear(d_model, d_model)

    def scaled_dot_product_attention(self, Q, K, V, mask=None):
        scores = torch.matmul(Q, K.transpose(-2, -1)) / math.sqrt(self.d_k)
        if mask is not None:
            scores = scores + mask * -1e9
        probs = torch.softmax(scores, dim=-1)
        return torch.matmul(probs, V)

    def split_heads(self, x):
        B, T, _ = x.size()
        return x.view(B, T, self.num_heads, self.d_k).transpose(1, 2)

    def combine_heads(self, x):
        B, _, T, _ = x.size()
        return x.transpose(1, 2).contiguous().view(B, T, self.d_model)

    def forward(self, Q, K, V, mask=None):
        Q = self.split_heads(self.W_q(Q))
        K = self.split_heads(self.W_k(K))
        V = self.split_heads(self.W_v(V))
        return self.W_o(self.combine_heads(self.scaled_dot_product_attention(Q, K, V, mask)))


class PositionWiseFeedForward(nn.Module):
    def __init__(self, d_model, d_ff):
        super().__init__()
        self.fc1 = nn.Linear(d_model, d_ff)
        self.fc2 = nn.Linear(d_ff, d_model)
        self.relu = nn.ReLU()

    def forward(self, x):
        return self.fc2(self.relu(self.fc1(x)))


class PositionalEncoding(nn.Module):
    def __init__(self, d_model, max_seq_length):
        super().__init__()
        pe = torch.zeros(max_seq_length, d_model)
        position = torch.arange(0, max_seq_length, dtype=torch.float).unsqueeze(1)
        div_term = torch.exp(torch.arange(0, d_model, 2).float() * -(math.log(10000.0) / d_model))
        pe[:, 0::2] = torch.sin(position * div_term)
        pe[:, 1::2] = torch.cos(position * div_term)
        self.register_buffer("pe", pe.unsqueeze(0))  # (1, max_seq_length, d_model), in the state_dict

    def forward(self, x):
        return x + self.pe[:, : x.size(1)]


class LayerNorm(nn.Module):
    """The lesson's LayerNorm (gamma, beta). `seed`: gamma * (x - mean) / (std + eps) + beta with
    the unbiased std (eps 1e-6); `torch`: what nn.LayerNorm computes (eps 1e-5), under the same names."""

    def __init__(self, d_model, kind, eps):
        super().__init__()
        self.kind = kind
        self.eps = eps
        self.gamma = nn.Parameter(torch.ones(d_model))
        self.beta = nn.Parameter(torch.zeros(d_model))

    def forward(self, x):
        if self.kind == "seed":
            mean = x.mean(-1, keepdim=True)
            std = x.std(-1, keepdim=True)  # unbiased
            return self.gamma * (x - mean) / (std + self.eps) + self.beta
        return F.layer_norm(x, (x.size(-1),), self.gamma, self.beta, self.eps)


def sublayer(x, norm, pre, f):
    """Post-LN (the lesson's Add & Norm): norm(x + f(x)); pre-LN: x + f(norm(x))."""
    if pre:
        return x + f(norm(x))
    return norm(x + f(x))


class EncoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.pre = c["norm_position"] == "pre"
        self.mha = MultiHeadAttention(d, c["num_heads"])
        self.ffn = PositionWiseFeedForward(d, c["d_ff"])
        self.layernorm1 = LayerNorm(d, c["layer_norm"], c["layer_norm_eps"])
        self.layernorm2 = LayerNorm(d, c["layer_norm"], c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x, mask):
        x = sublayer(x, self.layernorm1, self.pre, lambda h: self.dropout(self.mha(h, h, h, mask)))
        return sublayer(x, self.layernorm2, self.pre, lambda h: self.dropout(self.ffn(h)))


class DecoderLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        d = c["d_model"]
        self.pre = c["norm_position"] == "pre"
        self.mha1 = MultiHeadAttention(d, c["num_heads"])
        self.mha2 = MultiHeadAttention(d, c["num_heads"])
        self.ffn = PositionWiseFeedForward(d, c["d_ff"])
        self.layernorm1 = LayerNorm(d, c["layer_norm"], c["layer_norm_eps"])
        self.layernorm2 = LayerNorm(d, c["layer_norm"], c["layer_norm_eps"])
        self.layernorm3 = LayerNorm(d, c["layer_norm"], c["layer_norm_eps"])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, x, enc_output, src_mask, tgt_mask):
        x = sublayer(x, self.layernorm1, self.pre, lambda h: self.dropout(self.mha1(h, h, h, tgt_mask)))
        x = sublayer(x, self.layernorm2, self.pre, lambda h: self.dropout(self.mha2(h, enc_output, enc_output, src_mask)))
        return sublayer(x, self.layernorm3, self.pre, lambda h: self.dropout(self.ffn(h)))


class Encoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.d_model = c["d_model"]
        self.embedding = nn.Embedding(c["src_vocab_size"], c["d_model"])
        self.pos_encoding = PositionalEncoding(c["d_model"], c["max_seq_length"])
        self.encoder_layers = nn.ModuleList([EncoderLayer(c) for _ in range(c["num_layers"])])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, src, src_mask):
        x = self.dropout(self.pos_encoding(self.embedding(src) * math.sqrt(self.d_model)))
        for layer in self.encoder_layers:
            x = layer(x, src_mask)
        return x


class Decoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.d_model = c["d_model"]
        self.embedding = nn.Embedding(c["tgt_vocab_size"], c["d_model"])
        self.pos_encoding = PositionalEncoding(c["d_model"], c["max_seq_length"])
        self.decoder_layers = nn.ModuleList([DecoderLayer(c) for _ in range(c["num_layers"])])
        self.dropout = nn.Dropout(c["dropout"])

    def forward(self, tgt, enc_output, src_mask, tgt_mask):
        x = self.dropout(self.pos_encoding(self.embedding(tgt) * math.sqrt(self.d_model)))
        for layer in self.decoder_layers:
            x = layer(x, enc_output, src_mask, tgt_mask)
        return x


class Transformer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.pad_id = c["pad_id"]
        self.encoder = Encoder(c)
        self.decoder = Decoder(c)
        self.final_layer = nn.Linear(c["d_model"], c["tgt_vocab_size"])

    def create_padding_mask(self, seq):
        return (seq == self.pad_id).float().unsqueeze(1).unsqueeze(2)  # (B, 1, 1, S), 1 = masked

    def create_look_ahead_mask(self, size):
        return torch.triu(torch.ones(size, size), diagonal=1)  # 1 = masked

    def target_mask(self, tgt):
        return torch.maximum(self.create_padding_mask(tgt), self.create_look_ahead_mask(tgt.size(1)))  # (B, 1, T, T)

    def forward(self, src, tgt):
        src_mask = self.create_padding_mask(src)
        enc_output = self.encoder(src, src_mask)
        return self.final_layer(self.decoder(tgt, enc_output, src_mask, self.target_mask(tgt)))


def greedy(model, src, bos, eos, max_new):
    src = torch.tensor([src], dtype=torch.long)
    src_mask = model.create_padding_mask(src)
    enc_output = model.encoder(src, src_mask)
    ids = [bos]
    steps = []
    for _ in range(max_new):
        tgt = torch.tensor([ids], dtype=torch.long)
        tgt_mask = model.create_look_ahead_mask(len(ids)).unsqueeze(0).unsqueeze(0)
        logits = model.final_layer(model.decoder(tgt, enc_output, src_mask, tgt_mask))[0, -1]
        steps.append(logits.tolist())
        nxt = int(torch.argmax(logits))
        ids.append(nxt)
        if nxt == eos:
            break
    return ids, steps


def decode_text(tokenizer, ids):
    """A target row as text with the exported tokenizer: <pad> and <bos> skipped, <eos> ends it."""
    vocab = tokenizer["vocab"]
    pieces = []
    for i in ids:
        if vocab[i] == "<eos>":
            break
        if vocab[i] not in ("<pad>", "<bos>"):
            pieces.append(vocab[i])
    return "".join(pieces)


def main():
    folder, request = sys.argv[1], json.loads(sys.argv[2])
    with open(f"{folder}/config.json") as f:
        c = json.load(f)
    assert c["format"] == "nanolab-seq2seq" and c["model_type"] == "seq2seq", c.get("format")
    assert (c["activation"], c["embedding_scale"], c["position_encoding"], c["mask_value"]) == ("relu", "sqrt_d_model", "sinusoidal", -1e9)
    torch.manual_seed(0)
    model = Transformer(c)
    state = load_safetensors(f"{folder}/model.safetensors")
    model.load_state_dict(state, strict=True)
    model.eval()
    # the export's pe buffers are the lesson's table (float32, as the lesson builds it)
    pe_max_abs = max(float((PositionalEncoding(c["d_model"], c["max_seq_length"]).pe - state[k]).abs().max()) for k in c["buffers"])
    src = torch.tensor(request["src"], dtype=torch.long)
    tgt = torch.tensor(request["tgt"], dtype=torch.long)
    pad = c["pad_id"]
    with torch.no_grad():
        logits = model(src, tgt[:, :-1])
        decoded = [greedy(model, [t for t in row if t != pad], c["bos_id"], c["eos_id"], request["max_new"]) for row in request["src"]]
    target_tokenizer = c["tokenizers"].get("target")
    texts = None
    if target_tokenizer:
        with open(f"{folder}/{target_tokenizer}") as f:
            tokenizer = json.load(f)
        texts = [decode_text(tokenizer, ids) for ids, _ in decoded]
    print(
        json.dumps(
            {
                "greedy_text": texts,
                "torch": torch.__version__,
                "state_dict_keys": list(model.state_dict().keys()),
                "parameter_count": sum(p.numel() for p in model.parameters()),
                "pe_max_abs": pe_max_abs,
                "shape": list(logits.shape),
                "logits": logits.flatten().tolist(),
                "greedy": [{"outputs": ids, "step_logits": steps} for ids, steps in decoded],
            }
        )
    )


if __name__ == "__main__":
    main()
