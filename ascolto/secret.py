"""A credential read from the environment or from a file, that never shows itself.

Kubernetes mounts secrets as files: a secret setting is also read from the file that the
same variable with ``_FILE`` appended names (ascolto.settings_table). Its value appears in
no repr, str or error message; only the client options (``ascolto.clients``) ``reveal`` it,
to hand it to a client library.
"""

from __future__ import annotations

import hmac


class Secret:
    """A secret setting's value: ``reveal()`` hands it to a client library."""

    __slots__ = ("_value",)

    def __init__(self, value: str = "") -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))
