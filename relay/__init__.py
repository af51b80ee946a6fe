"""The relay: takes a source's pushed frames and fans them out to viewers, without decoding depth.

Build one with ``resources.build_relay(RelayConfig(...), BearerTokenCheck(token))`` and listen with
its ``site``; ``python -m depthcam.relay`` does that from the command line.
"""
