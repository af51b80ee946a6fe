"""relay/redisbus.py without a server: which bus addresses and passwords are accepted, and why not."""

import pytest

from depthcam.relay.redisbus import (
    PASSWORD_ENV_VAR, BusConfigError, RedisAddress, parse_bus_url, read_bus_password,
)

GOOD_URLS = [
    ("redis://localhost", RedisAddress("localhost", 6379, 0, False)),
    ("redis://10.0.0.5:6380/2", RedisAddress("10.0.0.5", 6380, 2, False)),
    ("rediss://bus.example.org:6390/0", RedisAddress("bus.example.org", 6390, 0, True)),
]
BAD_URLS = [
    "http://localhost:6379",  # not redis
    "redis://",  # no host
    "redis://:secret@localhost",  # a password on the command line
    "redis://user:secret@localhost",
    "redis://localhost/db1",  # a path that is not a database number
    "redis://localhost:notaport",
]


@pytest.mark.parametrize("url, address", GOOD_URLS)
def test_bus_addresses_parse(url, address):
    """redis:// and rediss:// addresses give host, port (6379 by default), database and TLS."""
    assert parse_bus_url(url) == address


@pytest.mark.parametrize("url", BAD_URLS)
def test_bad_bus_addresses_are_refused_with_a_reason(url):
    """Anything else, a password in the URL included, raises BusConfigError."""
    with pytest.raises(BusConfigError):
        parse_bus_url(url)


def test_the_password_comes_from_its_file_before_the_environment(tmp_path):
    """--bus-password-file wins over $DEPTHCAM_BUS_PASSWORD; neither: no password."""
    path = tmp_path / "bus-password"
    path.write_text("from-file\n")
    assert read_bus_password(path, {PASSWORD_ENV_VAR: "from-env"}) == "from-file"
    assert read_bus_password(None, {PASSWORD_ENV_VAR: "from-env"}) == "from-env"
    assert read_bus_password(None, {}) is None
    with pytest.raises(BusConfigError):
        read_bus_password(tmp_path / "missing", {})
