"""What a viewer that joins between keyframes is sent first, for encoders with a catch-up frame."""


class CatchupFrame:
    """Mixin for an encoder whose ``catchup()`` gives one absolute frame (or None before the first).

    ``catchup_messages()`` is what a source's viewer fanout sends a joining viewer: that frame, as
    a list, since a profile whose deltas need their whole group of pictures sends several.
    """

    def catchup_messages(self):
        """What a viewer joining now needs before the next frame; empty before the first frame."""
        message = self.catchup()
        return [] if message is None else [message]
