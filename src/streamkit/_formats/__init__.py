"""Layer 1: pure, sans-I/O encoders and decoders.

Nothing in this package awaits, imports anyio or imports starlette: values go in
and bytes come out (encoders), bytes go in and values come out (incremental
decoders). That keeps every format trivially testable and usable from any
framework, the way h11 is for HTTP/1.1.
"""
