"""The columns of the paper's tables, each trained by a registered algorithm (Sec. 5, App. C).

The command line names a column by its algorithm and policy class (``--algos td3 --policies
edp``; the paper's policy classes: ``edp``, ``ff`` feed-forward, ``diffusion`` trained through
its sampler). A run trains a registered algorithm (:data:`edp_ref.algorithms.REGISTRY`), so each
column maps to one registry name; this table is the one place where the two meet.

| --algos / --policies | the paper's column | registered algorithm |
|---|---|---|
| {td3,crr,iql} / edp | EDP + TD3 / CRR / IQL (Tables 2, 5) | ``edp_{td3,crr,iql}`` |
| {td3,crr,iql} / ff | Table 2's FF columns | ``td3bc``, ``gaussian_crr``, ``gaussian_iql`` |
| td3-eas / ff | Table 6's TD3+EAS: TD3+BC acting by EAS | ``td3bc_eas`` |
| dql / diffusion | Tables 1, 4's DQL (Diffusion-QL's configuration) | ``dql`` |
| td3-k100 / edp | Table 7's "Action Approx" (K = 100) | ``edp_td3_k100`` |
| td3-k100 / diffusion | Table 7's "DDPM" (100 DDPM steps) | ``edp_ddpm_k100`` |
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ALGOS", "COLUMNS", "POLICIES", "Column", "column"]


@dataclass(frozen=True)
class Column:
    """One column of the paper's tables: its ``--algos`` and ``--policies`` values (the module's
    table) and the registered algorithm its runs train (``RunSpec.algorithm``)."""

    algo: str
    policy: str
    algorithm: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.algo, self.policy)


COLUMNS: tuple[Column, ...] = (
    Column("td3", "edp", "edp_td3"),
    Column("crr", "edp", "edp_crr"),
    Column("iql", "edp", "edp_iql"),
    Column("td3", "ff", "td3bc"),
    Column("crr", "ff", "gaussian_crr"),
    Column("iql", "ff", "gaussian_iql"),
    Column("td3-eas", "ff", "td3bc_eas"),
    Column("dql", "diffusion", "dql"),
    Column("td3-k100", "edp", "edp_td3_k100"),
    Column("td3-k100", "diffusion", "edp_ddpm_k100"),
)
#: The values of ``--algos``.
ALGOS: tuple[str, ...] = tuple(dict.fromkeys(c.algo for c in COLUMNS))
#: The values of ``--policies``: the paper's policy classes.
POLICIES: tuple[str, ...] = ("edp", "ff", "diffusion")


def column(algo: str, policy: str) -> Column:
    """The column ``(algo, policy)``; ``ValueError`` naming the known ones otherwise."""
    if algo not in ALGOS:
        raise ValueError(f"unknown algorithm {algo!r}; known algorithms: {', '.join(ALGOS)}")
    for c in COLUMNS:
        if c.key == (algo, policy):
            return c
    known = [c.policy for c in COLUMNS if c.algo == algo]
    raise ValueError(
        f"algorithm {algo!r} has no policy class {policy!r}; it has: {', '.join(known)}"
    )
