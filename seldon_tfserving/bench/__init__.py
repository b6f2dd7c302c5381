"""`seldon-tfserving bench`: what each serving path costs, measured with closed-loop clients."""
