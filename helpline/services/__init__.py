"""Use cases: load, apply a domain rule, save through the store, notify. No sockets here."""
