"""WeChat Pay callbacks: POST /wechat/pay/notify (and the refund notify)."""
from __future__ import annotations

from flask import Blueprint

blp = Blueprint("wechat_pay", __name__)
