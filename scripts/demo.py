"""A short, real demonstration of the oracle (``scripts/run demo`` or ``python scripts/demo.py``).

It trains the paper's noise-prediction network by behaviour cloning (Eq. 5, with corruption by
Eq. 8) on a one-dimensional, two-mode action distribution, then draws actions with DPM-Solver-15
(Sec. 4.2) and with the full DDPM chain (Eq. 4), checks action approximation (Eq. 9) on the
trained network, and picks among candidates with energy-based action selection (Alg. 2) under a
critic that prefers one mode. Everything it prints is measured in this run.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import Tensor

from edp_ref import (
    NoisePredictionNetwork,
    approximate_action,
    corrupt,
    ddpm_sample,
    diffusion_loss,
    dpm_solver_sample,
    energy_based_action_selection,
    make_schedule,
)

MODES = (-0.6, 0.6)
MODE_STD = 0.05


def sample_dataset_actions(n: int, generator: torch.Generator) -> Tensor:
    """Actions from an equal mixture of N(-0.6, 0.05^2) and N(0.6, 0.05^2), shape [n, 1]."""
    side = torch.randint(0, 2, (n, 1), generator=generator).float() * 2 - 1
    return side * MODES[1] + MODE_STD * torch.randn(n, 1, generator=generator)


def histogram(values: Tensor, lo: float = -1.0, hi: float = 1.0, bins: int = 20) -> str:
    counts = torch.histc(values.flatten(), bins=bins, min=lo, max=hi)
    top = float(counts.max()) or 1.0
    rows = []
    for i, c in enumerate(counts.tolist()):
        left = lo + (hi - lo) * i / bins
        rows.append(f"  {left:+.1f} | {'#' * round(40 * c / top)}")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500, help="training steps (batch 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw")
    args = parser.parse_args(argv)

    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    schedule = make_schedule("linear", 1000)  # the paper's K = 1000
    net = NoisePredictionNetwork(state_dim=1, action_dim=1, hidden=64, generator=gen)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    state = torch.zeros(256, 1)

    start = time.perf_counter()
    for step in range(args.steps):
        a0 = sample_dataset_actions(256, gen)
        k = torch.randint(0, schedule.num_steps, (256,), generator=gen)
        eps = torch.randn(256, 1, generator=gen)
        a_k = corrupt(schedule, a0, k, eps)  # Eq. 8
        loss = diffusion_loss(eps, net(state, a_k, k.float()))  # Eq. 5
        opt.zero_grad()
        torch.autograd.backward(loss)  # typed, unlike Tensor.backward
        opt.step()
        if step % 500 == 0 or step == args.steps - 1:
            print(f"step {step:5d}  L_diff {loss.item():.4f}")
    train_s = time.perf_counter() - start
    print(f"trained {args.steps} steps in {train_s:.1f} s ({args.steps / train_s:.0f} it/s)\n")

    n = 2000
    with torch.no_grad():

        def eps_fn(a: Tensor, t: Tensor) -> Tensor:
            # the caller closes eps_fn over the state (here the same, empty state everywhere)
            out: Tensor = net(torch.zeros(a.shape[0], 1), a, t)
            return out

        a_T = torch.randn(n, 1, generator=gen)
        t0 = time.perf_counter()
        dpm = dpm_solver_sample(schedule, eps_fn, a_T)  # 15 model calls
        dpm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ddpm = ddpm_sample(schedule, eps_fn, a_T, torch.randn(1000, n, 1, generator=gen))
        ddpm_s = time.perf_counter() - t0

        for name, samples, secs in (("DPM-Solver-15", dpm, dpm_s), ("DDPM-1000", ddpm, ddpm_s)):
            near = [float(((samples - m).abs() < 0.2).float().mean()) for m in MODES]
            print(
                f"{name}: {n} actions in {secs:.2f} s; fraction near -0.6: {near[0]:.2f}, "
                f"near +0.6: {near[1]:.2f}, between the modes (|a| < 0.3): "
                f"{float((samples.abs() < 0.3).float().mean()):.3f}"
            )
            print(histogram(samples))

        # Eq. 9 on the trained network: one denoising step from a lightly corrupted action.
        a0 = sample_dataset_actions(n, gen)
        k = torch.full((n,), 50)
        a_k = corrupt(schedule, a0, k, torch.randn(n, 1, generator=gen))
        a0_hat = approximate_action(schedule, a_k, k, eps_fn(a_k, k.float()))
        err = float((a0_hat - a0).abs().mean())
        print(f"\naction approximation at k = 50: mean |a_hat0 - a0| = {err:.3f}")

        # Alg. 2: 10 DPM-Solver candidates per state, Q prefers the +0.6 mode.
        candidates = dpm_solver_sample(
            schedule, eps_fn, torch.randn(n * 10, 1, generator=gen)
        ).reshape(n, 10, 1)
        q = -10.0 * (candidates[..., 0] - MODES[1]).square()
        chosen = energy_based_action_selection(candidates, q, torch.rand(n, generator=gen))
        frac = float(((chosen - MODES[1]).abs() < 0.2).float().mean())
        print(
            f"EAS (N = 10, Q = -10 (a - 0.6)^2): fraction of chosen actions near +0.6: {frac:.2f}"
        )


if __name__ == "__main__":
    main()
