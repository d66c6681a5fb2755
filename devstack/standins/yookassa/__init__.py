"""A local YooKassa API v3 stand-in that the official ``yookassa`` SDK talks to over HTTP.

``server.create_app`` builds the aiohttp application (the v3 payment routes, the ``/control`` API and a
checkout page), ``python -m devstack.standins.yookassa`` runs it, ``runner`` starts it as a child process
and ``client.YooKassaControl`` drives it from tests. See docs/yookassa-standin.md.
"""
