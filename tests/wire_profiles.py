"""What each ``--profile`` sends, as FORMAT.md names it, for frames in raw disparity (the scene's,
the synthetic test frames'): the source's choice of profile id, seen from the wire."""

WIRE_PROFILES = {"classic": "classic-cm", "classic-lzma": "classic", "lossless": "lossless-raw", "fine": "fine-inverse"}
