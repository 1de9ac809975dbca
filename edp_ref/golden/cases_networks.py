"""Conformance cases of the networks (Sec. 5 setup) and of energy-based action selection
(Algorithm 2).

Official counterparts: the time embedding, eps_theta, the Q and value networks of
sail-sg/edp, diffusion/nets.py (``sinusoidal_embedding``, ``PolicyNet``, ``Critic``, ``Value``);
EAS as ``ensemble_act`` / ``dpmensemble_act`` of sail-sg/edp, diffusion/trainer.py (a categorical
draw over the candidates' Q values). Network parameters are inputs named
``<net>.<torch state_dict key>`` (a Linear weight is ``[out, in]``).
"""

from __future__ import annotations

from functools import partial

import torch

from edp_ref.core.networks import QNetwork, ValueNetwork, sinusoidal_time_embedding
from edp_ref.core.selection import eas_index, eas_probabilities, energy_based_action_selection
from edp_ref.golden.case import Arrays, CaseList, GoldenCase
from edp_ref.golden.core_inputs import (
    ACTION_DIM,
    HIDDEN,
    STATE_DIM,
    CoreInputs,
    load_net,
    noise_net,
)

__all__ = ["network_cases"]


def _time_embedding(x: Arrays) -> Arrays:
    return {"embedding": sinusoidal_time_embedding(x["t"])}


def _noise_prediction(x: Arrays, dtype: torch.dtype) -> Arrays:
    model = load_net(noise_net(dtype), "eps_net", x)
    return {"eps_hat": model(x["state"], x["a_k"], x["t"])}


def _critics(x: Arrays, dtype: torch.dtype) -> Arrays:
    q_net = load_net(QNetwork(STATE_DIM, ACTION_DIM, hidden=HIDDEN).to(dtype), "q_net", x)
    v_net = load_net(ValueNetwork(STATE_DIM, hidden=HIDDEN).to(dtype), "v_net", x)
    return {"q": q_net(x["state"], x["a"]), "v": v_net(x["state"])}


def _eas_probabilities(x: Arrays) -> Arrays:
    return {"probabilities": eas_probabilities(x["q"])}


def _eas(x: Arrays) -> Arrays:
    return {
        "index": eas_index(x["q"], x["uniform"]),
        "action": energy_based_action_selection(x["actions"], x["q"], x["uniform"]),
    }


def network_cases(shared: CoreInputs) -> list[GoldenCase]:
    """The time embedding, eps_theta, Q / V networks and EAS in ``shared.dtype``."""
    dtype = shared.dtype
    cases = CaseList(dtype)
    cases.add(
        "sinusoidal_time_embedding",
        "sinusoidal_time_embedding",
        "Sec. 5 setup",
        {"dim": 16, "variant": "official"},
        {"t": shared.t_float},
        _time_embedding,
    )
    cases.add(
        "noise_prediction_network",
        "NoisePredictionNetwork.forward",
        "Sec. 5 setup",
        {"hidden": HIDDEN, "layers": 3, "time_dim": 16, "embedding": "official"},
        {**shared.eps_net, "state": shared.state, "a_k": shared.a_k, "t": shared.t_float},
        partial(_noise_prediction, dtype=dtype),
        notes="parameters under eps_net.<torch state_dict name>; Linear weight is [out, in]",
    )
    cases.add(
        "q_and_value_networks",
        "QNetwork.forward / ValueNetwork.forward",
        "Sec. 5 setup",
        {"hidden": HIDDEN, "layers": 3},
        {**shared.q_net, **shared.v_net, "state": shared.state, "a": shared.a0},
        partial(_critics, dtype=dtype),
    )
    cases.add(
        "eas_probabilities",
        "eas_probabilities",
        "Alg. 2",
        {"temperature": 1.0},
        {"q": shared.q},
        _eas_probabilities,
    )
    cases.add(
        "energy_based_action_selection",
        "energy_based_action_selection",
        "Alg. 2",
        {"temperature": 1.0},
        {"actions": shared.candidates, "q": shared.q, "uniform": shared.uniform},
        _eas,
        notes="index = smallest i with uniform < CDF_i of softmax(q) (CDF normalized to end at 1)",
    )
    return cases.cases
