"""``modelmon import``: a Parquet or CSV file sent to a running modelmon in columnar batches."""
