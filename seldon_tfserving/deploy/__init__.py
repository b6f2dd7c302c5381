"""SeldonDeployment manifests: a typed model, validation against the CRD and the operator's
rules, and rendering for common journeys."""
