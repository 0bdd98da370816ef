"""Failed units of work: recorded, retried with backoff, counted, shown; never stopping other models."""
