"""Hypothesis properties of edp_ref's core mathematics (paper Secs. 3-4): identities checked on
generated inputs."""
