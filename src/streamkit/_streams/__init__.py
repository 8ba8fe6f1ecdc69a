"""Layer 2: async stream plumbing on anyio (asyncio and trio).

Framework-agnostic: everything here takes any sync or async iterable and gives
back async iterators (or async context managers that hold the one producer
task a feature needs). Only layer 3 (``streamkit.starlette``) knows about ASGI.
"""
