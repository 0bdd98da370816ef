"""The Python client a model service uses to send predictions and outcomes to modelmon.

    from service.client import Monitor
    monitor = Monitor("http://modelmon:8000", api_key, model="credit-scoring")
    prediction_id = monitor.log_prediction(features, prediction=1, score=0.83)

``log_*`` only check and queue a record (microseconds) and never raise; a background thread
(:class:`Monitor`) or asyncio task (:class:`AsyncMonitor`) sends batches with retries. Imports
only the standard library and httpx, so a model service needs none of the server's dependencies.
Guide: docs/guide-model-teams.md.
"""

from .async_monitor import AsyncMonitor
from .monitor import Monitor
from .queue import Counters
from .records import InvalidRecord

__all__ = ["AsyncMonitor", "Counters", "InvalidRecord", "Monitor"]
