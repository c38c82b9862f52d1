#!/usr/bin/env python3
"""PyTorch's CPU training throughput on the workload of `rnnlab bench`, with its CSV columns.

The workload (the same as rnnlab's src/bench.rs): one-hot token inputs over a vocabulary V, one
recurrent layer of H units (torch.nn.RNN tanh, LSTM or GRU), a linear readout at the last step,
softmax cross-entropy averaged over the batch, one Adam step (lr 1e-3) per batch, full BPTT over
T steps, float32. Timing: warm-up steps, then three timed blocks; the CSV reports the best block,
and `--spread` adds the median and worst (rnnlab bench reports the same).

    python3 -m venv /tmp/torchenv && /tmp/torchenv/bin/pip install torch
    /tmp/torchenv/bin/python docs/pytorch/torch_rnn_bench.py --threads 1
    cargo run --release -- bench --threads 1            # the same columns, run right after

Columns: cell,hidden,batch,length,threads,ms_per_step,seq_steps_per_s
"""
import argparse
import statistics
import time

import torch

MODULES = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def measure(cell, hidden, batch, length, vocab, steps, warmup, blocks=3):
    torch.manual_seed(0)
    recurrent = MODULES[cell](input_size=vocab, hidden_size=hidden)
    readout = torch.nn.Linear(hidden, vocab)
    params = list(recurrent.parameters()) + list(readout.parameters())
    optimiser = torch.optim.Adam(params, lr=1e-3)
    inputs = torch.nn.functional.one_hot(
        torch.randint(0, vocab, (length, batch)), vocab
    ).to(torch.float32)
    targets = torch.randint(0, vocab, (batch,))

    def train_step():
        optimiser.zero_grad(set_to_none=True)
        states, _ = recurrent(inputs)
        loss = torch.nn.functional.cross_entropy(readout(states[-1]), targets)
        loss.backward()
        optimiser.step()

    for _ in range(warmup):
        train_step()
    seconds = []
    for _ in range(blocks):
        start = time.perf_counter()
        for _ in range(steps):
            train_step()
        seconds.append((time.perf_counter() - start) / steps)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cell", "--cells", default="rnn,lstm,gru")
    parser.add_argument("--hidden", default="32,64,128,256")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--length", type=int, default=100)
    parser.add_argument("--vocab", type=int, default=16)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--spread", action="store_true", help="add median_ms and max_ms columns")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    header = "cell,hidden,batch,length,threads,ms_per_step,seq_steps_per_s"
    print(header + (",median_ms,max_ms" if args.spread else ""))
    for cell in args.cell.split(","):
        for hidden in (int(h) for h in args.hidden.split(",")):
            s = measure(cell, hidden, args.batch, args.length, args.vocab, args.steps, args.warmup)
            best = min(s)
            row = f"{cell},{hidden},{args.batch},{args.length},{args.threads},{best * 1e3:.3f},{args.batch * args.length / best:.0f}"
            if args.spread:
                row += f",{statistics.median(s) * 1e3:.3f},{max(s) * 1e3:.3f}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
