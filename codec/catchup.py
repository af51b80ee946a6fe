"""What an encoder gives the broadcast core: each frame with its header, and a one-off catch-up frame."""


class CatchupFrame:
    """Mixin for an encoder whose ``catchup()`` gives one absolute frame (or None before the first).

    ``encode_with_header`` hands the header an encoder just wrote over with the bytes, so the
    broadcast core need not parse them again; ``catchup_frame`` is the core's hook for a viewer
    joining between keyframes. ``catchup_messages()`` is that frame as a list, since a profile
    whose deltas need their whole group of pictures gives several.
    """

    def encode_with_header(self, frame):
        """``(header, message)``: ``encode(frame)`` and the header it wrote."""
        message = self.encode(frame)
        return self._header, message

    def catchup_frame(self):
        """A one-off absolute frame of the latest picture, or None (no frame yet, or none in this coding)."""
        return self.catchup()

    def catchup_messages(self):
        """What a viewer joining now needs before the next frame; empty before the first frame."""
        message = self.catchup()
        return [] if message is None else [message]
