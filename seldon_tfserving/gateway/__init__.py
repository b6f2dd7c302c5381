"""The local graph executor and Seldon's external API: what the Seldon executor and the
cluster's ingress do, on one machine."""
