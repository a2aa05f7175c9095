"""helpline: an anonymous, end-to-end encrypted chat helpline for young people."""

__version__ = "0.1.0"
