"""A real Kubernetes cluster through the official client (core/backends/kube/cluster.py). Nothing is
imported here: the client takes ~0.3 s to import, and a start on the demo estate only asks
`connection.kubeconfig_files()` whether there is a cluster to connect to."""
