"""Request logs: the CloudEvents sink, the per-instance Parquet store, the drift report."""
