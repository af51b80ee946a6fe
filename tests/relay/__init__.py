"""Tests of relay/: plain policy classes under task.Clock, protocols over loopback sockets."""
