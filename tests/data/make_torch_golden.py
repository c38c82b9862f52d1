#!/usr/bin/env python3
"""Writes the PyTorch golden files that tests/torch_parity.rs reads (run once; tests never need torch).

For each of torch.nn.RNN (tanh), RNN (relu), LSTM and GRU: 2 layers, input width 3, hidden 5,
T = 6 steps, B = 2 sequences, a linear readout of width 2 at the last step and mean squared error.
  torch_<name>/model.safetensors  the state dict (torch names) plus readout.weight / readout.bias
  torch_<name>/model.ron          the matching rnnlab architecture
  torch_<name>/golden.safetensors input (T,B,3), target (B,2), output (T,B,5), loss (1),
                                  and grad.<tensor> for every parameter

  /tmp/torchenv/bin/python tests/data/make_torch_golden.py
"""
import os

import torch
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
RON = """(
    rnnlab_version: "torch golden",
    dtype: "f64",
    model: (
        cell: {cell},
        activation: {act},
        input: dense(width: 3),
        hidden: [5, 5],
        output: values(width: 2),
    ),
)
"""

torch.manual_seed(0)
for name, cls, cell, act, kw in [
    ("rnn_tanh", torch.nn.RNN, "rnn", "tanh", {"nonlinearity": "tanh"}),
    ("rnn_relu", torch.nn.RNN, "rnn", "relu", {"nonlinearity": "relu"}),
    ("lstm", torch.nn.LSTM, "lstm", "tanh", {}),
    ("gru", torch.nn.GRU, "gru", "tanh", {}),
]:
    net = cls(3, 5, num_layers=2, **kw).double()
    head = torch.nn.Linear(5, 2).double()
    x = torch.randn(6, 2, 3, dtype=torch.float64)
    y = torch.randn(2, 2, dtype=torch.float64)
    out, _ = net(x)
    loss = torch.nn.functional.mse_loss(head(out[-1]), y)
    loss.backward()
    state = {k: v.detach().clone() for k, v in net.state_dict().items()}
    state["readout.weight"] = head.weight.detach().clone()
    state["readout.bias"] = head.bias.detach().clone()
    grads = {f"grad.{k}": p.grad.detach().clone() for k, p in net.named_parameters()}
    grads["grad.readout.weight"] = head.weight.grad.detach().clone()
    grads["grad.readout.bias"] = head.bias.grad.detach().clone()
    d = os.path.join(HERE, f"torch_{name}")
    os.makedirs(d, exist_ok=True)
    save_file(state, os.path.join(d, "model.safetensors"))
    with open(os.path.join(d, "model.ron"), "w") as f:
        f.write(RON.format(cell=cell, act=act))
    golden = {"input": x, "target": y, "output": out.detach(), "loss": loss.detach().reshape(1), **grads}
    save_file(golden, os.path.join(d, "golden.safetensors"))
    print(name, float(loss))
