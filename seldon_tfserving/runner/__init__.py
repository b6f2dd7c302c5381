"""The local runner: starts a SeldonDeployment's backends and components as local processes
and puts the gateway in front of them."""
