"""sales_bot."""
