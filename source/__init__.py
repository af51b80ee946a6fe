"""The source side of depthcam: reads depth frames, encodes them once, and sends them to viewers.

``python -m depthcam.source`` (``depthcam-source``) runs it; see ``__main__.py``.
"""
