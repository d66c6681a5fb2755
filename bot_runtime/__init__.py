"""The pool slot process: WAITING with aiogram already imported, then the tenant's booking bot when assigned.

A slot is one Nomad allocation of job ``bot-pool``. It publishes its state in
Consul under a session bound to its own service check, waits for a claim with
blocking queries, receives the tenant's credentials through a verified Vault
response-wrapping handoff, and runs the tenant's bot until the claim goes away.
"""
