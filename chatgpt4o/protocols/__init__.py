"""The chat protocols, one module per plugin generation; each is pure (no I/O).

* :mod:`.aipkit` (with :mod:`.aipkit_page` and :mod:`.aipkit_events`): the
  AI Puffer 2.3+ "AIPKit" chat, a cache POST then a server-sent event stream.
"""
