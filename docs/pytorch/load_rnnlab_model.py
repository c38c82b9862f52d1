#!/usr/bin/env python3
"""Load an rnnlab model directory into PyTorch and check it is the same function.

    python3 load_rnnlab_model.py runs/tanaka-lstm-L20-s0

Reads model.ron's `torch` entry through model.safetensors' metadata (`torch_exact`,
`torch_module`), builds that torch.nn module, loads the recurrent weights with strict=True (so a
missing or extra tensor is an error, never silently ignored), and the readout into a
torch.nn.Linear. Models that are not exactly a torch.nn module (sigmoid RNN, layer norm, residual
connections, unequal widths) are refused with the reason rnnlab wrote.
Needs: torch, safetensors (pip install torch safetensors).
"""
import sys

import torch
from safetensors import safe_open
from safetensors.torch import load_file


def load(run_dir):
    path = f"{run_dir}/model.safetensors"
    with safe_open(path, framework="pt") as f:
        meta = f.metadata() or {}
    if meta.get("torch_exact") != "true":
        reason = meta.get("torch_not_exact_because", "no torch_exact entry (an older rnnlab?)")
        raise SystemExit(f"{path}: not exactly a torch.nn module: {reason}")
    state = load_file(path)
    readout = torch.nn.Linear(state["readout.weight"].shape[1], state["readout.weight"].shape[0])
    readout.load_state_dict(
        {"weight": state.pop("readout.weight"), "bias": state.pop("readout.bias")}
    )
    # the constructor text rnnlab wrote, e.g. torch.nn.LSTM(input_size=29, hidden_size=64, num_layers=1)
    rnn = eval(meta["torch_module"], {"torch": torch})  # noqa: S307 (text written by rnnlab)
    rnn = rnn.to(next(iter(state.values())).dtype)
    readout = readout.to(rnn.weight_ih_l0.dtype)
    rnn.load_state_dict(state, strict=True)
    return rnn, readout


if __name__ == "__main__":
    rnn, readout = load(sys.argv[1])
    print(rnn)
    print(readout)
    # token inputs are one-hot: x has shape (T, B, vocab); the readout reads the top layer's h
    vocab = rnn.input_size
    tokens = torch.randint(0, vocab, (7, 2))
    x = torch.nn.functional.one_hot(tokens, vocab).to(rnn.weight_ih_l0.dtype)
    out, _ = rnn(x)
    print("logits at the last step:", readout(out[-1]))
