"""HPCC host agent: the reference's rate update driven by INT echoed in ACKs.

``rate_update`` (with ``params``) is the algorithm, pure and deterministic; ``scale`` maps
INT line rates to the emulated fabric's packet rates; ``pacing``, ``flow`` and ``messages``
are the sender's pure bookkeeping and the agent's packets; ``sender`` and ``receiver`` put
them on UDP sockets. docs/hpcc.md explains the loop.
"""
