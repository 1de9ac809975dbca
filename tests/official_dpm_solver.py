"""An independent, per-call transcription of the official DPM-Solver (noise prediction,
singlestep, time-uniform) for discrete-time schedules, used as the test oracle for
``edp_ref.dpm_solver_sample(clip=None)``.

It follows the structure of the official solver step by step: alpha, sigma and lambda are
interpolated on every call, intermediate times come from the inverse of lambda, and the update
formulas are written as the official code writes them (sail-sg/edp, diffusion/dpm_solver.py).
The model time is N t - 1: the official EDP's model wrapper feeds (t - 1/N) * N.
"""

from collections.abc import Callable

import torch
from torch import Tensor

from edp_ref import Schedule


class DiscreteVP:
    def __init__(self, schedule: Schedule) -> None:
        self.N = schedule.num_steps
        self.t_array = torch.linspace(0.0, 1.0, self.N + 1, dtype=torch.float64)[1:]
        self.log_alpha_array = 0.5 * torch.log(1.0 - schedule.betas).cumsum(dim=0)

    @staticmethod
    def interp(x: Tensor, xp: Tensor, fp: Tensor) -> Tensor:
        # piecewise linear with linear extrapolation from the end segments
        idx = torch.searchsorted(xp, x).clamp(1, xp.numel() - 1)
        x0, x1, y0, y1 = xp[idx - 1], xp[idx], fp[idx - 1], fp[idx]
        return y0 + (x - x0) * (y1 - y0) / (x1 - x0)

    def log_alpha(self, t: Tensor) -> Tensor:
        return self.interp(t, self.t_array, self.log_alpha_array)

    def sigma(self, t: Tensor) -> Tensor:
        return torch.sqrt(1.0 - torch.exp(2.0 * self.log_alpha(t)))

    def lam(self, t: Tensor) -> Tensor:
        la = self.log_alpha(t)
        return la - 0.5 * torch.log(1.0 - torch.exp(2.0 * la))

    def inverse_lambda(self, lam: Tensor) -> Tensor:
        la = -0.5 * torch.logaddexp(torch.zeros_like(lam), -2.0 * lam)
        return self.interp(la, torch.flip(self.log_alpha_array, [0]), torch.flip(self.t_array, [0]))


def official_orders(steps: int, order: int) -> list[int]:
    if order == 3:
        K = steps // 3 + 1
        if steps % 3 == 0:
            return [3] * (K - 2) + [2, 1]
        if steps % 3 == 1:
            return [3] * (K - 1) + [1]
        return [3] * (K - 1) + [2]
    if order == 2:
        if steps % 2 == 0:
            return [2] * (steps // 2)
        return [2] * (steps // 2) + [1]
    return [1] * steps


def official_dpm_solver(
    schedule: Schedule,
    model: Callable[[Tensor, Tensor], Tensor],
    x: Tensor,
    steps: int,
    order: int,
    t_end: float,
) -> Tensor:
    ns = DiscreteVP(schedule)
    N = ns.N

    def model_fn(x: Tensor, t: Tensor) -> Tensor:
        return model(x, (N * t - 1.0).expand(x.shape[0]).to(x.dtype))

    def t64(v: float | Tensor) -> Tensor:
        return torch.as_tensor(v, dtype=torch.float64).reshape(1)

    orders = official_orders(steps, order)
    cum = torch.cumsum(torch.tensor([0, *orders]), 0)
    outer = torch.linspace(1.0, t_end, steps + 1, dtype=torch.float64)[cum]
    for i, o in enumerate(orders):
        s, t = t64(outer[i]), t64(outer[i + 1])
        inner = torch.linspace(float(s), float(t), o + 1, dtype=torch.float64)
        lam_inner = ns.lam(inner)
        h_in = lam_inner[-1] - lam_inner[0]
        lam_s, lam_t = ns.lam(s), ns.lam(t)
        h = lam_t - lam_s
        la_s, la_t = ns.log_alpha(s), ns.log_alpha(t)
        sig_t = ns.sigma(t)
        model_s = model_fn(x, s)
        if o == 1:
            x = torch.exp(la_t - la_s) * x - (sig_t * torch.expm1(h)) * model_s
            continue
        r1 = (lam_inner[1] - lam_inner[0]) / h_in
        s1 = ns.inverse_lambda(lam_s + r1 * h)
        la_s1, sig_s1 = ns.log_alpha(s1), ns.sigma(s1)
        phi_11 = torch.expm1(r1 * h)
        phi_1 = torch.expm1(h)
        x_s1 = torch.exp(la_s1 - la_s) * x - (sig_s1 * phi_11) * model_s
        model_s1 = model_fn(x_s1, s1)
        if o == 2:
            x = (
                torch.exp(la_t - la_s) * x
                - (sig_t * phi_1) * model_s
                - (0.5 / r1) * (sig_t * phi_1) * (model_s1 - model_s)
            )
            continue
        r2 = (lam_inner[2] - lam_inner[0]) / h_in
        s2 = ns.inverse_lambda(lam_s + r2 * h)
        la_s2, sig_s2 = ns.log_alpha(s2), ns.sigma(s2)
        phi_12 = torch.expm1(r2 * h)
        phi_22 = torch.expm1(r2 * h) / (r2 * h) - 1.0
        phi_2 = phi_1 / h - 1.0
        x_s2 = (
            torch.exp(la_s2 - la_s) * x
            - (sig_s2 * phi_12) * model_s
            - r2 / r1 * (sig_s2 * phi_22) * (model_s1 - model_s)
        )
        model_s2 = model_fn(x_s2, s2)
        x = (
            torch.exp(la_t - la_s) * x
            - (sig_t * phi_1) * model_s
            - (1.0 / r2) * (sig_t * phi_2) * (model_s2 - model_s)
        )
    return x
