"""Text bounded for storage: what UTF-8 cannot encode escaped, and cuts that never split a
character. DynamoDB measures an item in UTF-8 bytes and refuses a string it cannot encode."""

from __future__ import annotations


def utf8_encodable(text: str) -> str:
    """`text`, with what UTF-8 cannot encode (lone surrogates) written as `\\udXXX` escapes."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def truncate_utf8(text: str, max_bytes: int) -> tuple[str, bool]:
    """Cut `text` to at most `max_bytes` of UTF-8 without splitting a character."""
    encoded = text.encode("utf-8")
    if len(encoded) <= max_bytes:
        return text, False
    return encoded[:max_bytes].decode("utf-8", errors="ignore"), True
