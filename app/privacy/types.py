"""SQLAlchemy column types that keep personal information encrypted at rest (Art. 16).

``EncryptedText("person.name")`` and ``EncryptedBytes("person.photo")`` store a :class:`FieldCipher` value
(``LargeBinary``: BLOB on SQLite, ``bytea`` on PostgreSQL) and hand the application the plaintext. The
argument is the column's AEAD context: a value copied from one column into another fails to decrypt.

The cipher is process-wide: the application factory calls :func:`set_cipher` once keys are loaded. An
encrypted column cannot be compared, filtered or sorted in SQL (each value has a fresh nonce, so
``name == "张三"`` could never match); the types refuse such expressions with a ``TypeError`` pointing to the
blind index. ``IS NULL`` / ``IS NOT NULL`` (and ``== None``) remain allowed.
"""
from __future__ import annotations

from typing import Any, Generic, TypeVar

from sqlalchemy import LargeBinary, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import operators

from app.privacy.crypto import FieldCipher

_cipher: FieldCipher | None = None


def set_cipher(cipher: FieldCipher | None) -> None:
    """Install the cipher used by every encrypted column of this process (``None`` uninstalls it)."""
    global _cipher
    _cipher = cipher


def get_cipher() -> FieldCipher:
    """The installed cipher; ``RuntimeError`` if the application has not called :func:`set_cipher`."""
    if _cipher is None:
        raise RuntimeError("no field cipher installed: call app.privacy.types.set_cipher() at startup")
    return _cipher


_T = TypeVar("_T", str, bytes)
_NULL_TESTS = (operators.is_, operators.is_not, operators.eq, operators.ne)


class _NoSqlComparison(TypeDecorator.Comparator[Any]):
    """Only NULL tests are meaningful on ciphertext."""

    def operate(self, op: Any, *other: Any, **kwargs: Any) -> Any:
        if op in _NULL_TESTS and other == (None,):
            return super().operate(op, *other, **kwargs)
        raise TypeError(f"{self.expr} is encrypted: it cannot be compared or sorted in SQL; use its blind index")

    def reverse_operate(self, op: Any, other: Any, **kwargs: Any) -> Any:
        raise TypeError(f"{self.expr} is encrypted: it cannot be used in SQL expressions; use its blind index")


class _Encrypted(TypeDecorator[_T], Generic[_T]):
    """Encrypts on bind, decrypts on result, with the column's context as associated data."""

    impl = LargeBinary
    cache_ok = True
    comparator_factory = _NoSqlComparison
    value_type: type[_T]

    def __init__(self, context: str) -> None:
        super().__init__()
        self.context = context

    @property
    def python_type(self) -> type[_T]:
        return self.value_type

    def process_bind_param(self, value: _T | None, dialect: Dialect) -> bytes | None:
        if value is None:
            return None
        if not isinstance(value, self.value_type):
            raise TypeError(f"{type(self).__name__}({self.context!r}) stores {self.value_type.__name__}, "
                            f"not {type(value).__name__}")
        return get_cipher().encrypt(value, context=self.context.encode("utf-8"))

    def process_result_value(self, value: bytes | None, dialect: Dialect) -> _T | None:
        if value is None:
            return None
        plaintext = get_cipher().decrypt(value, context=self.context.encode("utf-8"))
        if not isinstance(plaintext, self.value_type):  # the context matched, so this is a schema mix-up
            raise TypeError(f"{self.context}: stored {type(plaintext).__name__}, "
                            f"expected {self.value_type.__name__}")
        return plaintext


class EncryptedText(_Encrypted[str]):
    """A ``str`` column stored encrypted: ``mapped_column(EncryptedText("person.name"))``."""

    value_type = str
    cache_ok = True


class EncryptedBytes(_Encrypted[bytes]):
    """A ``bytes`` column stored encrypted: ``mapped_column(EncryptedBytes("person.photo"))``."""

    value_type = bytes
    cache_ok = True
