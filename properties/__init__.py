"""Hypothesis properties of edp_ref's core mathematics (issue 2, ``properties/``)."""
