"""What the webhook answers while Redis, the chat's memory, cannot be reached.

Every storefront turn needs Redis: the retry record that makes a turn run once
(``storefront.dedupe``), the user's conversation lock and dialogue state
(``storefront.state_store``). Without it no turn may run, since a retry of the
same message could then repeat its side effects. The webhook still owes WeChat
an answer, or the user sees "该公众号暂时无法提供服务" and the message is lost
without a word, so it answers from this module, which needs neither Redis nor the
database and changes nothing:

- "help" and "menu" (typed in either language, the Help menu button, a message
  type the shop does not know) get their usual text, which is fixed;
- what nobody waits an answer for (opening a menu link, unfollowing, system
  events) gets nothing ("success");
- everything else gets a short "busy, try again in a minute" in the user's
  language. Nothing was done, so trying again, or WeChat retrying, is harmless.

The language is the one the message is written in, as the dialogue picks it from
a keyword (``bots.dialogue.grammar``); a message with no keyword is English when
it has Latin letters and no Chinese, and Chinese otherwise (the shop's default),
since the language remembered in the dialogue state is out of reach.
"""
from __future__ import annotations

from bots.dialogue import grammar
from bots.dialogue.keys import MENU_HELP
from bots.dialogue.texts import say
from bots.messages import Inbound, InboundKind, Reply, TextReply

# Inputs the dialogue answers with a fixed text, and that text's key.
_FIXED = {grammar.HELP: "help", grammar.MENU: "menu"}
# Kinds the dialogue never answers (see the engine's ``user_did``).
_SILENT = (InboundKind.VIEW, InboundKind.UNSUBSCRIBE)


def language_of(text: str) -> str:
    """"en" or "zh": the language a typed line is in, as far as the words tell."""
    command = grammar.parse(text)
    if command.lang:
        return command.lang
    cleaned = grammar.clean(text)
    latin = any(ch.isascii() and ch.isalpha() for ch in cleaned)
    chinese = any(ord(ch) > 0x2E80 for ch in cleaned)
    return "en" if latin and not chinese else "zh"


def outage_replies(inbound: Inbound) -> list[Reply]:
    """The answer to ``inbound`` that needs no Redis and no database; [] for none.

    Pure: the caller renders it, and nothing about the user is read or written.
    """
    kind = inbound.kind
    text = inbound.text or ""
    if kind in _SILENT or (kind is InboundKind.OTHER and text.startswith("event:")):
        return []
    if kind is InboundKind.TEXT:
        lang = language_of(text)
        key = _FIXED.get(grammar.parse(text).name)
        return [TextReply(say(lang, key or "busy"))]
    if (kind is InboundKind.CLICK and text.strip() == MENU_HELP) or kind is InboundKind.OTHER:
        # A message type the shop does not know gets help, as in the dialogue.
        return [TextReply(say("zh", "help"))]
    return [TextReply(say("zh", "busy"))]
