"""The call ledger: decoded call events folded into contact outcomes (pure)."""
