"""The sales bot's conversation: ``start`` (greeting, tariffs, open orders), ``bot`` (getting the buyer's bot
one way or the other), ``details`` (company name, time zone), ``checkout`` (confirm, pay, cancel) and
``fallback`` (stale buttons, unexpected input), included in that order.
"""
