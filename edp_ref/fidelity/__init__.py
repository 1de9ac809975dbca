"""Fidelity of edp_ref to the official code: crosschecks and learning curves side by side."""
