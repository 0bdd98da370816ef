"""A model's monitor as its API shows it: the configuration (``monitors``) joined with the live
status the engine keeps (layouts, pending windows, lag, failures).

It sits above ``aggregation``, ``windows`` and ``failures`` because it reads all three, so that
``monitors`` itself stays a low floor the engine can import.
"""
