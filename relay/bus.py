"""BusLink: joins this relay's streams to other relays' over a publish/subscribe bus.

The bus is Redis (``--bus redis://...``, ``redisbus.RedisBus``) or, between the workers of one
host, the supervisor's local hub (``hub.HubBus``); both carry bytes on named channels, in order.

- **Frames.** The relay whose source (or upstream) feeds stream NAME publishes every frame that
  source sends, byte for byte, to channel ``depthcam:frames:NAME``. A relay with viewers of NAME
  and no source of its own for it subscribes, and feeds each frame into its own stream as its
  source would: its own header-only cache (late joiners start at once here too), its own fan-out.
  The bus adds nothing to a frame and the subscriber never decodes depth.
- **Gaps.** When the bus connection drops, or Redis drops a subscriber that read too slowly, the
  frames in between are gone: every bus-fed cache is reset, so viewers go on at the next keyframe
  and never get a delta they cannot decode (the cache refuses any delta that does not follow the
  frame before it, too).
- **Newest source wins, across relays.** When a source (or an upstream) attaches to a stream here,
  this relay publishes a claim ``{"kind": "source", "stream", "relay", "claim"}`` on
  ``depthcam:control``. Every relay receives every claim in the one order the bus delivers them, so
  all agree which claim is last: a relay whose own claim came back to it before another relay's
  claim for the same stream has been superseded, and closes its source with 4001
  (``SOURCE_REPLACED``). A claim that could not be sent (the bus was down) is sent again when the
  bus is back, so the source that was connected last when the bus returns wins.
- **Viewer counts.** Each relay announces how many viewers each stream has here
  (``{"kind": "viewers", ...}``) when the number changes and every ``VIEWER_COUNT_INTERVAL_S``; the
  relay holding the source adds the counts it heard within ``VIEWER_COUNT_EXPIRY_S`` to its own when
  it tells the source, so a source watched only through other relays does not go to sleep.
"""

import json
import os
import uuid

from twisted.internet import task
from twisted.logger import Logger

from depthcam.broadcast.channel import Channel
from depthcam.codec.errors import FrameFormatError
from depthcam.codec.header import parse_header
from depthcam.relay.buslag import BusLag
from depthcam.relay.registry import RelayStream, StreamRegistry

FRAME_CHANNEL_PREFIX = "depthcam:frames:"
CONTROL_CHANNEL = "depthcam:control"


def frame_channel(stream_name):
    """The bus channel carrying the frames of ``stream_name``."""
    return FRAME_CHANNEL_PREFIX + stream_name


class BusStream(RelayStream):
    """A RelayStream whose frames also travel over the bus (see the module docstring)."""

    def __init__(self, link, name, clock=None, **budget):
        self._link = link
        self.remote_viewers = {}  # relay id -> (viewer count, clock seconds heard)
        self._told = None  # the viewer count this relay's source heard last
        super().__init__(name, clock, **budget)
        self.bus_lag = BusLag(self.fanout.max_lag_s, link.clock)

    def publish_message(self, message):
        """A frame from this relay's own source: fan it out here, and publish it unchanged."""
        accepted = super().publish_message(message)
        self._link.publish_frame(self.name, message)
        return accepted

    def publish_from_bus(self, message):
        """A frame another relay published; ignored while a source of this relay holds the stream,
        and skipped while the stream is over its time budget (``buslag``)."""
        if self.publisher is not None:
            return
        try:
            header, _ = parse_header(message)
        except FrameFormatError:
            self.frames_rejected += 1  # the sending relay checked it, so it is rare
            return
        if self.bus_lag.admit(header):
            Channel.publish(self, header, message)

    def reset(self):
        super().reset()
        self.bus_lag.reset()

    def remote_viewer_count(self, now, expiry_s):
        return sum(count for count, heard in self.remote_viewers.values() if now - heard <= expiry_s)

    def tell_publisher_total(self, force=False):
        """Tell this relay's source how many viewers watch here and elsewhere, if that changed."""
        if self.publisher is None:
            return
        link = self._link
        total = len(self.fanout) + self.remote_viewer_count(link.clock.seconds(),
                                                            link.VIEWER_COUNT_EXPIRY_S)
        if force or total != self._told:
            self._told = total
            self.publisher.send_viewer_count(total)

    def _tell_publisher(self, count):
        self.tell_publisher_total()
        self._link.viewer_count_changed(self)


class BusRegistry(StreamRegistry):
    """A StreamRegistry that tells its BusLink when viewers and sources come and go."""

    def __init__(self, link, make_stream, **limits):
        super().__init__(make_stream, **limits)
        self._link = link

    def admit_viewer(self, name, origin=None):
        stream = super().admit_viewer(name, origin)
        self._link.sync()
        return stream

    def release_viewer(self, stream):
        super().release_viewer(stream)
        self._link.sync()

    def attach_publisher(self, stream, publisher):
        super().attach_publisher(stream, publisher)
        self._link.claim(stream.name)
        stream.tell_publisher_total(force=True)
        self._link.sync()

    def release_publisher(self, stream, publisher):
        was_source = stream.publisher is publisher
        super().release_publisher(stream, publisher)
        if was_source:
            self._link.unclaim(stream.name)
        self._link.sync()


class BusLink:
    """This relay's side of the bus: subscriptions, published frames, claims, counts and stats."""

    # How often every relay repeats its viewer counts, and how long a count heard stays valid.
    VIEWER_COUNT_INTERVAL_S = 2.0
    VIEWER_COUNT_EXPIRY_S = 3 * VIEWER_COUNT_INTERVAL_S
    # Viewer count changes are gathered this long into one announcement (a crowd joining at once).
    VIEWER_COUNT_DELAY_S = 0.1

    log = Logger()

    def __init__(self, bus, clock=None, relay_id=None):
        if clock is None:
            from twisted.internet import reactor as clock
        self.clock = clock
        self.bus = bus
        self.relay_id = relay_id or uuid.uuid4().hex[:12]
        self.registry = None
        self._subscribed = set()  # stream names whose frame channel we subscribe to
        self._claims = {}  # stream name -> [claim id, whether the bus delivered it back]
        self._count_call = None
        self._announcer = None
        self.frames_published = 0
        self.frames_unsent = 0  # frames a source sent while the bus was down
        self.frames_received = 0
        self.connects = 0
        self.disconnects = 0
        self.sources_superseded = 0  # our sources closed because another relay's claim was newer
        self.control_rejected = 0

    # Wiring.

    def make_registry(self, make_stream, **limits):
        """The BusRegistry to build the relay on; ``make_stream(link, name)`` builds its streams."""
        self.registry = BusRegistry(self, lambda name: make_stream(self, name), **limits)
        return self.registry

    def start(self):
        self.bus.subscribe(CONTROL_CHANNEL)
        self.bus.start(self)
        self._announcer = task.LoopingCall(self._announce_counts)
        self._announcer.clock = self.clock
        self._announcer.start(self.VIEWER_COUNT_INTERVAL_S, now=False)

    def stop(self):
        if self._announcer is not None and self._announcer.running:
            self._announcer.stop()
        if self._count_call is not None and self._count_call.active():
            self._count_call.cancel()
        self.bus.stop()

    # Called by the registry and its streams.

    def sync(self):
        """Subscribe to the frames of every stream with viewers here and no source here; only those."""
        wanted = {name for name, stream in self.registry.streams.items()
                  if stream.viewer_slots and stream.publisher is None}
        for name in sorted(wanted - self._subscribed):
            self.bus.subscribe(frame_channel(name))
        for name in sorted(self._subscribed - wanted):
            self.bus.unsubscribe(frame_channel(name))
        self._subscribed = wanted

    def publish_frame(self, name, message):
        if self.bus.publish(frame_channel(name), message):
            self.frames_published += 1
        else:
            self.frames_unsent += 1

    def claim(self, name):
        """A source attached here: tell every relay (see *newest source wins*)."""
        claim_id = uuid.uuid4().hex
        self._claims[name] = [claim_id, False]
        self._send_control({"kind": "source", "stream": name, "relay": self.relay_id, "claim": claim_id})

    def unclaim(self, name):
        self._claims.pop(name, None)

    def viewer_count_changed(self, stream):
        if self._count_call is None or not self._count_call.active():
            self._count_call = self.clock.callLater(self.VIEWER_COUNT_DELAY_S, self._announce_counts)

    # Called by the bus.

    def bus_connected(self):
        self.connects += 1
        self.log.info("bus connected ({bus})", bus=self.bus.describe())
        self._reset_bus_fed()
        for name, claim in list(self._claims.items()):
            stream = self.registry.streams.get(name)
            if stream is not None and stream.publisher is not None:
                self.claim(name)
        self._announce_counts()

    def bus_lost(self):
        self.disconnects += 1
        self.log.warn("bus connection lost ({bus}); reconnecting", bus=self.bus.describe())
        self._reset_bus_fed()

    def bus_message(self, channel, payload):
        if channel == CONTROL_CHANNEL:
            self._control(payload)
        elif channel.startswith(FRAME_CHANNEL_PREFIX):
            stream = self.registry.streams.get(channel[len(FRAME_CHANNEL_PREFIX):])
            if stream is not None:
                self.frames_received += 1
                stream.publish_from_bus(payload)

    def stats(self):
        """The ``bus`` entry of /stats."""
        return {
            "bus": self.bus.describe(),
            "connected": self.bus.is_connected,
            "relay_id": self.relay_id,
            "pid": os.getpid(),
            "subscribed_streams": sorted(self._subscribed),
            "frames_published": self.frames_published,
            "frames_unsent": self.frames_unsent,
            "frames_received": self.frames_received,
            # Frames dropped because a bus-fed stream was over its time budget (buslag.py).
            "frames_skipped_late": sum(stream.bus_lag.frames_skipped
                                       for stream in self.registry.streams.values()),
            "connects": self.connects,
            "disconnects": self.disconnects,
            "sources_superseded": self.sources_superseded,
            "control_rejected": self.control_rejected,
        }

    # Inside.

    def _reset_bus_fed(self):
        for name in self._subscribed:
            stream = self.registry.streams.get(name)
            if stream is not None and stream.publisher is None:
                stream.reset()

    def _send_control(self, fields):
        self.bus.publish(CONTROL_CHANNEL, json.dumps(fields).encode("utf-8"))

    def _announce_counts(self):
        for name, stream in list(self.registry.streams.items()):
            self._send_control({"kind": "viewers", "stream": name, "relay": self.relay_id,
                                "count": len(stream.fanout)})
        # Counts heard from others expire: the source may have to hear a smaller total.
        for stream in list(self.registry.streams.values()):
            if stream.publisher is not None and stream.remote_viewers:
                stream.tell_publisher_total()

    def _control(self, payload):
        try:
            fields = json.loads(payload)
            kind, name, relay = fields["kind"], fields["stream"], fields["relay"]
            if kind == "source":
                self._source_claimed(name, relay, fields["claim"])
            elif kind == "viewers":
                self._viewers_heard(name, relay, int(fields["count"]))
        except (ValueError, TypeError, KeyError):
            self.control_rejected += 1

    def _source_claimed(self, name, relay, claim_id):
        mine = self._claims.get(name)
        if relay == self.relay_id:
            if mine is not None and mine[0] == claim_id:
                mine[1] = True
            return
        # Delivered before ours came back: that claim is older than ours, and ours wins.
        if mine is None or not mine[1]:
            return
        stream = self.registry.streams.get(name)
        del self._claims[name]
        if stream is not None and stream.publisher is not None:
            self.sources_superseded += 1
            self.log.info("stream {name}: a newer source on another relay takes over", name=name)
            stream.publisher.replace()

    def _viewers_heard(self, name, relay, count):
        if relay == self.relay_id:
            return
        stream = self.registry.streams.get(name)
        if stream is None or stream.publisher is None:
            return
        before = stream.remote_viewers.get(relay, (None,))[0]
        stream.remote_viewers[relay] = (count, self.clock.seconds())
        if count != before:
            stream.tell_publisher_total()
