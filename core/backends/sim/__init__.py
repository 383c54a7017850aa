"""The embedded simulator: a deterministic cluster built from fixtures/ and a seed, kept in the store."""

from core.backends.sim.cluster import SimCluster, parse_scale

__all__ = ["SimCluster", "parse_scale"]
