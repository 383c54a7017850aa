"""Implementations of the Cluster protocol (core/cluster.py): `sim`, the embedded demo estate; `kube`, a
real cluster through the official client. Only console's wiring picks one; nothing above the protocol
imports this package."""
