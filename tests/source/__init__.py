"""Tests of source/: policies under task.Clock, the server and push on loopback, the programs."""
