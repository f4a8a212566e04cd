"""Passive reply XML, rendered here because wechatpy's reply classes do not escape ``]]>``."""
from __future__ import annotations

import re

from bots.messages import ArticleReply, Reply, TextReply

SUCCESS = "success"  # WeChat's "nothing to say" answer, valid in every mode

# Characters XML 1.0 cannot carry at all, even inside CDATA.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def cdata(text: str) -> str:
    """``text`` as CDATA that cannot be broken out of."""
    clean = _NOT_XML.sub("", text)
    return "<![CDATA[" + clean.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_reply(reply: Reply, *, to_user: str, from_user: str, create_time: int) -> str:
    """The passive reply XML for one reply: text, or news with one article."""
    head = (
        f"<xml><ToUserName>{cdata(to_user)}</ToUserName>"
        f"<FromUserName>{cdata(from_user)}</FromUserName>"
        f"<CreateTime>{int(create_time)}</CreateTime>"
    )
    if isinstance(reply, TextReply):
        body = f"<MsgType>{cdata('text')}</MsgType><Content>{cdata(reply.text)}</Content>"
        return head + body + "</xml>"
    if isinstance(reply, ArticleReply):
        # Passive news replies show a single article since October 2018.
        return head + (
            f"<MsgType>{cdata('news')}</MsgType><ArticleCount>1</ArticleCount><Articles><item>"
            f"<Title>{cdata(reply.title)}</Title>"
            f"<Description>{cdata(reply.description)}</Description>"
            f"<PicUrl>{cdata(reply.image_url)}</PicUrl>"
            f"<Url>{cdata(reply.url)}</Url>"
            "</item></Articles></xml>"
        )
    raise TypeError(f"not a reply: {type(reply).__name__}")
