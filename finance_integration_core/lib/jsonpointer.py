"""RFC 6901 JSON pointers, used to find event ids and types in payloads."""

_MISSING = object()


def resolve_pointer(document, pointer, default=None):
    """Return the value at ``pointer`` in ``document`` or ``default``.

    >>> resolve_pointer({"data": {"object": {"id": "ch_1"}}}, "/data/object/id")
    'ch_1'
    >>> resolve_pointer({"a/b": [1, 2]}, "/a~1b/1")
    2
    >>> resolve_pointer({"a": 1}, "/b", "none")
    'none'
    """
    if pointer in (None, ""):
        return document
    if not pointer.startswith("/"):
        raise ValueError(f"JSON pointer {pointer!r} must start with '/'")
    current = document
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(current, dict):
            current = current.get(token, _MISSING)
        elif isinstance(current, list) and token.isdigit():
            index = int(token)
            current = current[index] if index < len(current) else _MISSING
        else:
            current = _MISSING
        if current is _MISSING:
            return default
    return current
