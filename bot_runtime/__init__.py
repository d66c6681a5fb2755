"""The pool slot process: WAITING with aiogram already imported, then the tenant's booking bot when assigned.

A slot is one Nomad allocation of job ``bot-pool``. It publishes its state on
its own Consul catalog node (the one write its token has), waits for a claim with
blocking queries, receives the tenant's credentials through a verified Vault
response-wrapping handoff, and runs the tenant's bot until the claim goes away.
"""
