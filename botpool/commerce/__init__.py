"""Selling bots: tariffs, durable orders with an explicit state machine, and YooKassa payments.

``tariffs`` prices what is sold, ``orders`` keeps every order and its transitions in the control schema,
``yookassa`` talks to YooKassa through the official SDK, ``payments`` turns what YooKassa says into
recorded facts (and calls the fulfilment seam once per paid order), ``notifications`` is the HTTP
endpoint YooKassa posts to, and ``checker`` covers notifications that never arrive. See docs/sales.md.
"""
