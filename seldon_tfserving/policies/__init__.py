"""Pure parts of the graph components, testable without a server.

Routing policies (`split`, `bandits`) share per-branch statistics (`branches`); `keeper` makes
one safe to serve and persistent (`state`); and `combining` merges children's outputs. Nothing
here imports Seldon Core or TensorFlow.
"""
