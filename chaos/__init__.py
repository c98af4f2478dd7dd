"""The chaos run (``make chaos``, ``python -m chaos``): many clients, many faults, and the checks
that nothing acknowledged is lost or duplicated and no frame reaches a non-member."""
