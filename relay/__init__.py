"""The relay: takes a source's pushed frames and fans them out to viewers, without decoding depth."""
