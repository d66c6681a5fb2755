"""The operator bot: the platform's own Telegram bot for its operators (the seeds' Master Bot).

``/pool``, ``/tenants``, ``/tenant``, ``/orders`` and ``/scale`` for the Telegram ids in
``OPERATOR_ADMINS``, and alerts pushed to them (Alertmanager's webhook and the platform's alerts in
Consul KV). A process of its own (``python -m operator_bot``) with its own bot token and credentials.
"""
