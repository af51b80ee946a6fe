"""Stream names and the paths that carry them: ``/source/<name>`` publishes, ``/view/<name>`` watches."""

import re

DEFAULT_STREAM = "default"
STREAM_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# The relay's paths: a source publishes to SOURCE_PREFIX + name, a viewer watches VIEW_PREFIX + name.
SOURCE_PREFIX = "/source/"
VIEW_PREFIX = "/view/"


def is_valid_stream_name(name):
    """Whether ``name`` (str) may name a stream."""
    return STREAM_NAME.fullmatch(name) is not None
