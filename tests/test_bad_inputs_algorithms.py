"""Bad inputs at the algorithms' boundaries (configs, batch/state/randomness -> update) get a clear
error that names the field or argument, the value and what was expected; nothing is silently
accepted (a misspelled option once selected another code path)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

import pytest
import torch

from edp_ref import algorithms as alg
from edp_ref.algorithms.catalog.ablations import (
    EDPDDPMK100Config,
    EDPWithoutAPConfig,
    EDPWithoutDPMConfig,
)
from edp_ref.algorithms.catalog.dql import DQLConfig
from edp_ref.algorithms.catalog.edp_crr import EDPCRRConfig
from edp_ref.algorithms.catalog.edp_iql import EDPIQLConfig
from edp_ref.algorithms.catalog.edp_td3 import EDPTD3Config
from edp_ref.algorithms.catalog.gaussian_iql import GaussianIQLConfig
from edp_ref.algorithms.catalog.td3bc import TD3BCConfig
from edp_ref.compilation import shape_checks_disabled
from edp_ref.config_checks import ConfigError

NET = alg.NetworkConfig(hidden=8, layers=1)
DIFF = alg.DiffusionConfig(num_steps=50, dpm_steps=3)

# (what is built, the error type, words that must appear in the message)
BAD_CONFIGS: list[tuple[str, Callable[[], Any], str]] = [
    ("nan learning rate", lambda: alg.OptimizerConfig(learning_rate=math.nan), "learning_rate"),
    ("inf learning rate", lambda: alg.OptimizerConfig(learning_rate=math.inf), "finite"),
    ("negative learning rate", lambda: alg.OptimizerConfig(learning_rate=-1e-3), "must be > 0"),
    ("zero clip", lambda: alg.OptimizerConfig(max_grad_norm=0.0), "max_grad_norm"),
    ("beta1 of 1", lambda: alg.OptimizerConfig(beta1=1.0), "beta1"),
    ("clip mode", lambda: alg.OptimizerConfig(clip_mode="Optax"), "'optax', 'torch'"),  # type: ignore[arg-type]
    ("discount 1", lambda: EDPTD3Config(discount=1.0), "discount"),
    ("discount -0.1", lambda: EDPTD3Config(discount=-0.1), "must be in [0.0, 1.0), got -0.1"),
    ("next action policy", lambda: EDPTD3Config(next_action_policy="EMA"), "'ema', 'online'"),  # type: ignore[arg-type]
    ("q head", lambda: EDPTD3Config(q_head="q3"), "q_head must be one of 'random', 'q1'"),  # type: ignore[arg-type]
    ("normalization", lambda: EDPTD3Config(q_normalization="other"), "q_normalization"),  # type: ignore[arg-type]
    ("sampler", lambda: EDPCRRConfig(next_action_sampler="dpm"), "next_action_sampler"),  # type: ignore[arg-type]
    ("objective", lambda: EDPIQLConfig(policy_objective="awr"), "policy_objective"),  # type: ignore[arg-type]
    ("expectile 1", lambda: EDPIQLConfig(expectile=1.0), "expectile"),
    ("negative temperature", lambda: EDPCRRConfig(temperature=-1.0), "temperature"),
    ("string width", lambda: alg.NetworkConfig(hidden="256"), "hidden must be an int, got '256'"),  # type: ignore[arg-type]
    ("zero width", lambda: alg.NetworkConfig(hidden=0), "hidden must be > 0, got 0"),
    ("bool width", lambda: alg.NetworkConfig(hidden=True), "got True (bool)"),
    ("float layers", lambda: alg.NetworkConfig(layers=1.5), "layers must be an int, got 1.5"),  # type: ignore[arg-type]
    ("odd time embedding", lambda: alg.NetworkConfig(time_dim=15), "time_dim"),
    ("init", lambda: alg.NetworkConfig(init="xavier"), "init"),  # type: ignore[arg-type]
    ("schedule", lambda: alg.DiffusionConfig(schedule="sigmoid"), "schedule"),  # type: ignore[arg-type]
    ("zero steps", lambda: alg.DiffusionConfig(num_steps=0), "num_steps must be > 0, got 0"),
    ("solver order 4", lambda: alg.DiffusionConfig(dpm_order=4), "dpm_order"),  # type: ignore[arg-type]
    ("t_end 1", lambda: alg.DiffusionConfig(dpm_t_end=1.0), "dpm_t_end"),
    ("ema every 0", lambda: alg.TargetNetworkConfig(ema_every=0), "ema_every"),
    ("tau 2", lambda: alg.TargetNetworkConfig(critic_tau=2.0), "critic_tau"),
    ("policy delay 0", lambda: TD3BCConfig(policy_delay=0), "policy_delay"),
    (
        "log std bounds",
        lambda: GaussianIQLConfig(log_std_min=2.0, log_std_max=-5.0),
        "log_std_min",
    ),
    ("nested type", lambda: EDPTD3Config(optimizer={"learning_rate": 1e-3}), "optimizer"),  # type: ignore[arg-type]
    (
        "replace keeps checking",
        lambda: dataclasses.replace(EDPTD3Config(), alpha=-1.0),
        "alpha",
    ),
    (
        "eas candidates 0",
        lambda: alg.ActingSettings(eas_candidates=0),
        "eas_candidates must be > 0",
    ),
    ("eas candidates str", lambda: alg.ActingSettings(eas_candidates="3"), "got '3' (str)"),  # type: ignore[arg-type]
    ("eas candidates bool", lambda: alg.ActingSettings(eas_candidates=True), "got True (bool)"),
    ("dpm steps 0", lambda: alg.ActingSettings(dpm_steps=0), "dpm_steps must be > 0, got 0"),
    ("dpm steps float", lambda: alg.ActingSettings(dpm_steps=2.5), "got 2.5 (float)"),  # type: ignore[arg-type]
    ("policy scale", lambda: alg.ActingSettings(policy_scale=-1.0), "policy_scale must be >= 0"),
    ("policy scale nan", lambda: alg.ActingSettings(policy_scale=math.nan), "got nan"),
    ("noise scale inf", lambda: alg.ActingSettings(initial_noise_scale=math.inf), "got inf"),
    ("perturbation None", lambda: alg.ActingSettings(perturbation_std=None), "got None"),  # type: ignore[arg-type]
    ("acting sampler", lambda: alg.ActingSettings(sampler="euler"), "'dpm_solver', 'ddpm'"),  # type: ignore[arg-type]
    # A variant's invariants live in its config class.
    (
        "Diffusion-QL on a_hat0",
        lambda: DQLConfig(policy_action="approximation"),
        "DQLConfig.policy_action must be one of 'sampler', got 'approximation'",
    ),
    (
        "w/o AP on a_hat0",
        lambda: EDPWithoutAPConfig(policy_action="approximation"),
        "EDPWithoutAPConfig.policy_action must be one of 'sampler'",
    ),
    (
        "Table 7's DDPM on a_hat0",
        lambda: EDPDDPMK100Config(policy_action="approximation"),
        "EDPDDPMK100Config.policy_action must be one of 'sampler'",
    ),
    (
        "w/o DPM with DPM-Solver",
        lambda: EDPWithoutDPMConfig(next_action_sampler="dpm_solver"),
        "EDPWithoutDPMConfig.next_action_sampler must be one of 'ddpm', got 'dpm_solver'",
    ),
]


@pytest.mark.parametrize(("label", "build", "words"), BAD_CONFIGS, ids=[c[0] for c in BAD_CONFIGS])
def test_bad_config_field_is_named(label: str, build: Callable[[], Any], words: str) -> None:
    # The configs' own validation (what users get); pytest's jaxtyping hook would otherwise
    # reject wrongly typed arguments first, with its own message.
    with shape_checks_disabled(), pytest.raises(ConfigError) as info:
        build()
    assert words in str(info.value), str(info.value)


def test_config_errors_are_value_errors_and_name_the_class() -> None:
    with shape_checks_disabled(), pytest.raises(ValueError, match=r"EDPTD3Config\.q_head must be"):
        EDPTD3Config(q_head="q3")  # type: ignore[arg-type]


def test_valid_configs_build() -> None:
    # ints where floats are annotated are fine; None disables what its comment says.
    with shape_checks_disabled():
        alg.OptimizerConfig(learning_rate=1, max_grad_norm=None)
    EDPCRRConfig(weight_cap=None)
    alg.DiffusionConfig(max_action=None, dpm_t_end=1e-3)
    for algorithm in alg.REGISTRY.values():
        algorithm.config_class()


def test_table3_config_rejects_a_misspelled_task() -> None:
    with pytest.raises(ValueError, match="unknown dataset name 'walker2d-medium-expret-v2'"):
        alg.table3_config(EDPTD3Config(), "walker2d-medium-expret-v2")


def _setup(name: str) -> tuple[Any, alg.TrainState, alg.Batch, Any, alg.Algorithm]:
    algorithm = alg.REGISTRY[name]
    changes: dict[str, Any] = {"network": NET}
    if algorithm.diffusion and name != "dql":
        changes["diffusion"] = DIFF
    config = algorithm.config_class(**changes)
    g = torch.Generator().manual_seed(0)
    state = algorithm.init(config, 3, 2, g)
    batch = alg.Batch(
        observations=torch.randn(4, 3, generator=g),
        actions=torch.rand(4, 2, generator=g) * 2 - 1,
        rewards=torch.randn(4, generator=g),
        next_observations=torch.randn(4, 3, generator=g),
        terminals=torch.tensor([0.0, 1.0, 0.0, 0.0]),
    )
    return config, state, batch, algorithm.draw(config, 4, 2, g), algorithm


@pytest.mark.parametrize("name", list(alg.REGISTRY))
def test_batch_of_other_widths_is_named(name: str) -> None:
    config, state, batch, randomness, algorithm = _setup(name)
    wide = dataclasses.replace(
        batch,
        observations=torch.randn(4, 5),
        next_observations=torch.randn(4, 5),
    )
    with pytest.raises(ValueError, match=r"batch\.observations has width 5 .* width 3"):
        algorithm.update(state, wide, randomness, config)
    if randomness is None:
        return
    # Randomness drawn for another batch size names the tensor and the size.
    other = algorithm.draw(config, 7, 2, torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match=r"randomness\..* 'batch' axis is 7 .* batch size 4"):
        algorithm.update(state, batch, other, config)


@pytest.mark.parametrize("name", list(alg.REGISTRY))
def test_every_variant_names_itself_for_a_nan_or_out_of_bound_action(name: str) -> None:
    """Each registered algorithm's errors name that algorithm's update (Diffusion-QL's its own,
    not EDP + TD3's whose core it runs); an action beyond the config's max_action is refused,
    naming the tensor, the element and the bound."""
    config, state, batch, randomness, algorithm = _setup(name)
    actions = batch.actions.clone()
    actions[2, 1] = math.nan
    with pytest.raises(ValueError, match=rf"^{name}_update: argument 'batch\.actions' contains 1 "):
        algorithm.update(state, dataclasses.replace(batch, actions=actions), randomness, config)
    actions[2, 1] = -1.5
    with pytest.raises(
        ValueError,
        match=rf"^{name}_update: batch\.actions\[2, 1\] = -1\.5 lies outside \[-1\.0, 1\.0\], "
        r"the config's max_action",
    ):
        algorithm.update(state, dataclasses.replace(batch, actions=actions), randomness, config)


@pytest.mark.parametrize("value", [0.5, 2.0, -1.0])
def test_terminal_flags_must_be_zero_or_one(value: float) -> None:
    config, state, batch, randomness, algorithm = _setup("edp_td3")
    bad = dataclasses.replace(batch, terminals=torch.tensor([0.0, value, 0.0, 1.0]))
    with pytest.raises(ValueError, match=rf"batch.terminals\[1\] = {value}"):
        algorithm.update(state, bad, randomness, config)


def test_randomness_that_does_not_fit_the_config_is_named() -> None:
    config, state, batch, randomness, edp_td3 = _setup("edp_td3")
    sampler_config = dataclasses.replace(config, policy_action="sampler")
    with pytest.raises(
        ValueError,
        match=r"edp_td3_update: randomness\.policy_actions is None but the config has "
        r"policy_action='sampler'",
    ):
        edp_td3.update(state, batch, randomness, sampler_config)
    drawn_for_sampler = edp_td3.draw(sampler_config, 4, 2, torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match="policy_actions is set but the config has policy_action"):
        edp_td3.update(state, batch, drawn_for_sampler, config)
    with pytest.raises(TypeError, match=r"randomness must be TD3Randomness .* got NoneType"):
        edp_td3.update(state, batch, None, config)
    gaussian_iql = alg.REGISTRY["gaussian_iql"]
    with pytest.raises(TypeError, match="gaussian_iql_update: randomness must be None"):
        gaussian_iql.update(state, batch, randomness, config)


def test_config_with_another_schedule_than_the_state_is_named() -> None:
    config, state, batch, _, edp_td3 = _setup("edp_td3")
    other = dataclasses.replace(config, diffusion=dataclasses.replace(DIFF, num_steps=40))
    randomness = edp_td3.draw(other, 4, 2, torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="K = 40 but the state was built with 'linear', K = 50"):
        edp_td3.update(state, batch, randomness, other)
