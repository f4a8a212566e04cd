"""The floor for bench/webhook.py: bare Flask + wechatpy echoing text messages.

It does the least a correct WeChat webhook can do: check the signature, parse
the XML with wechatpy and answer a passive text reply; no database, no Redis,
no deduplication, no dialogue.
"""
from __future__ import annotations

import os

from flask import Flask, abort, request
from wechatpy import parse_message
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

TOKEN = os.environ.get("WECHAT_TOKEN", "chatshop-dev-token")

app = Flask(__name__)


@app.route("/wechat", methods=["GET", "POST"])
def wechat():  # type: ignore[no-untyped-def]
    """URL verification on GET; on POST echo a text message's content back."""
    args = request.args
    try:
        check_signature(TOKEN, args.get("signature", ""), args.get("timestamp", ""),
                        args.get("nonce", ""))
    except InvalidSignatureException:
        abort(403)
    if request.method == "GET":
        return args.get("echostr", "")
    message = parse_message(request.get_data())
    if message.type != "text":
        return "success"
    reply = TextReply(content=message.content, message=message)
    return reply.render(), 200, {"Content-Type": "application/xml"}
