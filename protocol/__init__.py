"""What a source, a relay and a viewer agree on: stream names, tokens, close codes, control messages.

No I/O and no networking here (the token file is read by ``tokens.read_token``, the one reader);
``codec/`` keeps depth <-> bytes, and this package keeps the contract around those bytes.
"""
