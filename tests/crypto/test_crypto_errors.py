"""The error tree: stable, unique codes, all listed in the module docstring."""

from __future__ import annotations

import inspect

from helpline.crypto import errors


def _error_classes() -> list[type[errors.CryptoError]]:
    return [
        cls
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.CryptoError)
    ]


def test_codes_are_unique_and_documented() -> None:
    classes = _error_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    doc = errors.__doc__ or ""
    for cls in classes:
        assert f"{cls.__name__} " in doc and f" {cls.code} " in doc, cls


def test_message_defaults() -> None:
    assert str(errors.Replay()) == errors.Replay.default_message
    assert errors.Replay("counter 3").message == "counter 3"
    assert isinstance(errors.Replay(), errors.EnvelopeError)
    assert isinstance(errors.WrongPassphrase(), errors.KeyFileError)
