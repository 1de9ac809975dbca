"""The paper's mathematics: one pure, typed function per equation (Secs. 3-4, Appendix C.4).

In the order the paper introduces them:

| module | paper |
|---|---|
| :mod:`~edp_ref.core.schedule` | Eq. 1, the noise schedule and posterior constants (Sec. 3.2) |
| :mod:`~edp_ref.core.corruption` | Eq. 8, closed-form corruption a^k of a dataset action |
| :mod:`~edp_ref.core.approximation` | Eq. 9, action approximation a_hat^0 |
| :mod:`~edp_ref.core.losses` | Eq. 5 (L_diff), Eq. 12 (ELBO weights), Eq. 13 (Gaussian surrogate) |
| :mod:`~edp_ref.core.eps_model` | the noise-prediction model as the samplers call it |
| :mod:`~edp_ref.core.ddpm` | Eqs. 3-4, DDPM ancestral sampling |
| :mod:`~edp_ref.core.dpm_solver` | Sec. 4.2, DPM-Solver |
| :mod:`~edp_ref.core.selection` | Sec. 4.5, Algorithm 2: energy-based action selection |
| :mod:`~edp_ref.core.networks` | Sec. 5, the noise-prediction network, Q and V MLPs |
| :mod:`~edp_ref.core.rl` | Eqs. 6, 14-16, 20-22: TD targets, TD3+BC's scale, CRR and IQL weights |

Everything here is re-exported at the top level (``import edp_ref as E; E.corrupt(...)``).
"""
