"""Benchmark of two torch processes on one machine: what the package's thread policy buys.

Times a quick-profile training step (:func:`bl_utils.train.train_one_epoch` on BUSI-like tensors:
U-Net ResNet-18, 128², batch 16, ``rebalance`` mid-ramp, the run's AMP mode) in three settings:

1. one process alone, holding a training claim (:func:`bl_utils.threads.claim_cores`);
2. two processes at once, as before the policy: OpenMP threads spinning (``OMP_WAIT_POLICY=ACTIVE``,
   libgomp's behaviour) and both at every core;
3. two processes at once under the policy (:mod:`bl_utils.threads`): a training process with its
   claim, and a second process started while it trains, which takes the cores left.

Prints seconds per step and each concurrent step against one alone (the target: ≤ 2.5× for the
training process). Asserts nothing: timings depend on the machine and its load.

Usage: ``python benchmarks/bench_threads.py [--steps 8]``. Run it with nothing else on the machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

STEP = r"""
import sys, time
sys.path.insert(0, {here!r})
if {claim}:
    from bl_utils.threads import claim_cores
import torch
from bench_training import training_data
from bl_utils.config import TrainConfig
from bl_utils.losses import StrategyLoss
from bl_utils.schedules import make_strategy
from bl_utils.train import TrainingState, build_training, train_one_epoch

def main():
    device = torch.device("cpu")
    config = TrainConfig(data="synthetic", profile="quick", encoder_weights=None, strategy="rebalance",
                         epochs=2).resolve(device)
    data = training_data(16 * {steps}, 8, 128, device)
    state = TrainingState(*build_training(config, device, verbose=False))
    objective = StrategyLoss(make_strategy("rebalance", 2), regional="bce")
    train_one_epoch(state, objective, data, config, 0, verbose=False)   # warm-up epoch
    start = time.perf_counter()
    train_one_epoch(state, objective, data, config, 1, verbose=False)
    print((time.perf_counter() - start) / {steps}, torch.get_num_threads())

if {claim}:
    with claim_cores():
        main()
else:
    main()
"""


def _start(steps: int, claim: bool, env: dict[str, str]) -> subprocess.Popen:
    code = STEP.format(here=str(HERE), steps=steps, claim=claim)
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **env})


def _read(process: subprocess.Popen) -> tuple[float, int]:
    out, _ = process.communicate()
    seconds, threads = out.split()[-2:]
    return float(seconds), int(threads)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8, help="timed steps per process (after a warm-up epoch)")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE.parent))
    from bl_utils.runtime import machine_line

    print(machine_line())
    alone, threads = _read(_start(args.steps, True, {}))
    print(f"alone (training claim, {threads} threads):            {alone:.3f} s/step")
    spinning = {"OMP_WAIT_POLICY": "ACTIVE", "BL_CLAIMS_DIR": "/nonexistent-no-claims"}
    pair = [_start(args.steps, False, spinning), _start(args.steps, False, spinning)]
    (a, ta), (b, tb) = map(_read, pair)
    print(f"two at once, spinning threads ({ta} + {tb} threads):     {a:.3f} / {b:.3f} s/step "
          f"= {a / alone:.1f}× / {b / alone:.1f}× alone")
    trainer = _start(args.steps, True, {})
    time.sleep(3.0)   # the second process starts once the first holds its claim
    other = _start(args.steps, False, {})
    (a, ta), (b, tb) = _read(trainer), _read(other)
    print(f"two at once, the policy ({ta} training + {tb} other):    {a:.3f} / {b:.3f} s/step "
          f"= {a / alone:.1f}× / {b / alone:.1f}× alone")


if __name__ == "__main__":
    main()
