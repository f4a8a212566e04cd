"""Safe parsing of WeChat's flat ``<xml><Name>value</Name>...</xml>`` documents.

A document type declaration is refused by scanning the prolog before any parser
sees the text, so no entity (XXE, billion laughs) can ever be declared: a DTD may
only stand in the prolog, and expat rejects one anywhere else. The prolog is
scanned rather than the whole text because user text inside CDATA may legally
contain ``<!DOCTYPE``.
"""
from __future__ import annotations

from xml.etree import ElementTree

from adapters.wechat.messages.protocol import Refused

ROOT = "xml"
_SPACE = " \t\r\n\ufeff"


def _check_prolog(text: str) -> None:
    """Refuse any ``<!...>`` declaration before the root element (comments and PIs pass)."""
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if text.startswith("<?", i):
            end = text.find("?>", i + 2)
            if end < 0:
                raise Refused(400, "malformed XML")
            i = end + 2
        elif text.startswith("<!--", i):
            end = text.find("-->", i + 4)
            if end < 0:
                raise Refused(400, "malformed XML")
            i = end + 3
        elif text.startswith("<!", i):
            raise Refused(400, "DOCTYPE/ENTITY declarations are not accepted")
        else:
            return


def parse_fields(raw: bytes) -> dict[str, str]:
    """The root's leaf children as {tag: text}; raise :class:`Refused` (400) for anything else.

    Nested elements (e.g. ScanCodeInfo) are skipped: nothing ChatShop reads lives there.
    A repeated tag keeps its first value.
    """
    if not raw.strip():
        raise Refused(400, "empty body")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "body is not UTF-8") from exc
    _check_prolog(text)
    # An explicit encoding overrides the document's declaration, so a body claiming
    # UTF-16 or GBK is still read as the UTF-8 we validated above.
    parser = ElementTree.XMLParser(encoding="utf-8")
    try:
        parser.feed(raw)
        root = parser.close()
    except (ElementTree.ParseError, ValueError, UnicodeError, LookupError) as exc:
        raise Refused(400, "malformed XML") from exc
    if root.tag != ROOT:
        raise Refused(400, "root element is not <xml>")
    fields: dict[str, str] = {}
    for child in root:
        if len(child) == 0 and isinstance(child.tag, str):
            fields.setdefault(child.tag, child.text or "")
    return fields
