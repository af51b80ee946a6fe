"""The broadcast core behind every door: stream cache, fan-out, budget, catch-up, viewers, files, stats.

Direct mode is this core with an in-process publisher (the encoder, ``source/direct.py``); the
relay is this core with authenticated WebSocket publishers (``relay/``). Neither door imports
the other; both import this package and ``depthcam.protocol``.
"""
