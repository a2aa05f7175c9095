"""Pure domain rules: conversation states, roles, access, wrap-up. No I/O here."""
