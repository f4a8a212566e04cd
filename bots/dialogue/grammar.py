"""The command grammar: what a typed line means, in Chinese or English.

Input is normalised first (NFKC folds full-width digits, letters and the
ideographic space to their ASCII forms; case is folded; runs of spaces become
one), then matched against a keyword table. The longest keyword that starts
the line wins. An English keyword must be a whole word ("cart 2", not
"cartoon"); a Chinese one may run straight into its argument ("搜索苹果",
"退款2 不想要了"), because nobody types a space there. A few keywords that change something
(applying to become a distributor) count only as the whole line, so a sentence
that merely starts with one ("apply for a refund") never triggers them.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Command names the engine dispatches on.
HELP = "help"
MENU = "menu"
CATEGORIES = "categories"
SEARCH = "search"
CART = "cart"
CHECKOUT = "checkout"
ORDERS = "orders"
ORDER_NUMBER = "order_number"
REFUND = "refund"
DISTRIBUTOR = "distributor"
INVITE = "invite"  # alone: my invite code; with a code: bind under its distributor
BIND = "bind"  # with a code: bind under its distributor; alone: how to
CANCEL = "cancel"
NEXT = "next"
PREV = "prev"
ADD = "add"
SET = "set"
REMOVE = "remove"
CLEAR = "clear"
CONFIRM = "confirm"
NEW_ADDRESS = "new_address"
CHOOSE = "choose"
UNKNOWN = "unknown"
# Every command name above: the engine has exactly one handler for each (a test checks).
COMMAND_NAMES = (HELP, MENU, CATEGORIES, SEARCH, CART, CHECKOUT, ORDERS, ORDER_NUMBER, REFUND,
                 DISTRIBUTOR, INVITE, BIND, CANCEL, NEXT, PREV, ADD, SET, REMOVE, CLEAR, CONFIRM,
                 NEW_ADDRESS, CHOOSE, UNKNOWN)

# Distributor-centre actions (the argument of DISTRIBUTOR).
APPLY = "apply"
MY_CODE = "code"
MY_QR = "qr"
POSTER = "poster"
MY_TEAM = "team"
MY_EARNINGS = "earnings"
WITHDRAW = "withdraw"
# In the order of the distributor-centre menu: "分销" then "3" means MY_QR. The engine
# remembers the names, not the positions, so a menu shown before a reorder still works.
DISTRIBUTOR_ACTIONS = (APPLY, MY_CODE, MY_QR, POSTER, MY_TEAM, MY_EARNINGS, WITHDRAW)

# keyword -> (command, fixed argument or None). Keywords are already normalised.
_KEYWORDS: dict[str, tuple[str, str | None]] = {}
# Keywords that count only as the whole line.
_WHOLE_LINE: set[str] = set()


def _add(command: str, *words: str, arg: str | None = None, whole: bool = False) -> None:
    for word in words:
        _KEYWORDS[word] = (command, arg)
        if whole:
            _WHOLE_LINE.add(word)


_add(HELP, "帮助", "说明", "怎么用", "使用说明", "help", "?", "？")
_add(MENU, "菜单", "主菜单", "开始", "你好", "您好", "嗨", "menu", "start", "hi", "hello", "home")
_add(CATEGORIES, "分类", "类目", "商品分类", "全部分类", "逛逛", "categories", "category",
     "browse", "shop")
_add(SEARCH, "搜索", "搜", "查找", "search", "find")
_add(CART, "购物车", "我的购物车", "cart", "basket")
_add(CHECKOUT, "结算", "去结算", "下单", "买单", "checkout", "check out")
_add(ORDERS, "订单", "我的订单", "查订单", "orders", "order", "my orders")
_add(REFUND, "退款", "申请退款", "退货", "refund")
_add(DISTRIBUTOR, "分销", "分销中心", "推广中心", "distributor", "distribution", "partner")
_add(DISTRIBUTOR, "申请分销", "申请分销员", "申请成为分销员", "成为分销员", "apply",
     "apply to distribute", arg=APPLY, whole=True)
_add(DISTRIBUTOR, "我的邀请码", "my code", "my invite code", arg=MY_CODE)
_add(DISTRIBUTOR, "我的二维码", "推广码", "推广二维码", "二维码", "qr", "qr code", "qrcode",
     "my qr", arg=MY_QR)
_add(DISTRIBUTOR, "海报", "推广海报", "我的海报", "poster", "my poster", arg=POSTER)
_add(INVITE, "邀请码", "code", "invite", "invite code")
_add(BIND, "绑定", "绑定邀请码", "填写邀请码", "输入邀请码", "bind")
_add(DISTRIBUTOR, "我的团队", "团队", "team", "my team", arg=MY_TEAM)
_add(DISTRIBUTOR, "我的收益", "收益", "佣金", "earnings", "my earnings", "commission",
     arg=MY_EARNINGS)
_add(DISTRIBUTOR, "提现", "withdraw", arg=WITHDRAW)
_add(CANCEL, "取消", "取消订单", "退出", "cancel", "quit", "exit")
_add(NEXT, "下一页", "下页", "更多", "next", "more")
_add(PREV, "上一页", "上页", "prev", "previous", "back")
_add(ADD, "加购", "加入购物车", "加入", "购买", "add", "buy")
_add(SET, "改", "修改", "set", "qty")
_add(REMOVE, "删除", "删", "移除", "remove", "delete", "del")
_add(CLEAR, "清空", "清空购物车", "clear", "empty")
_add(CONFIRM, "确认", "确定", "确认下单", "是", "好", "好的", "对", "confirm", "yes", "y", "ok")
_add(NEW_ADDRESS, "新地址", "新增地址", "新建地址", "new", "new address")

# Commands that take arguments; the others must be the whole line ("好吃吗" is not "好").
_TAKES_ARGS = {SEARCH, ORDERS, REFUND, DISTRIBUTOR, INVITE, BIND, CANCEL, ADD, SET, REMOVE}

# Longest first, so "清空购物车" beats "清空" and "我的订单" beats nothing shorter.
_ORDERED = sorted(_KEYWORDS, key=len, reverse=True)
_ORDER_NUMBER = re.compile(r"^cs\d{22}$")
_TRAILING_PUNCT = "。.!！~～"
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Command:
    """A parsed line: the command, its arguments and the language its keyword was in."""

    name: str
    args: tuple[str, ...] = ()
    lang: str | None = None
    rest: str = ""  # the argument text as typed (case kept), for search terms and reasons
    exact: bool = False  # the line was the keyword alone


def clean(text: str) -> str:
    """Fold full-width forms, trim, collapse whitespace; case is kept."""
    folded = unicodedata.normalize("NFKC", text or "")
    return _SPACES.sub(" ", folded).strip()


def _lang_of(word: str) -> str | None:
    if any("a" <= ch <= "z" for ch in word):
        return "en"
    if any(ord(ch) > 0x2E80 for ch in word):
        return "zh"
    return None


def _is_ascii_word(word: str) -> bool:
    return word[-1].isascii() and word[-1].isalnum()


def parse(text: str) -> Command:
    """The command a typed line asks for; UNKNOWN when it matches nothing."""
    original = clean(text)
    line = original.casefold()
    base = original
    if len(line) > 1:
        line = line.rstrip(_TRAILING_PUNCT).rstrip()
        base = original.rstrip(_TRAILING_PUNCT).rstrip()
    if not line:
        return Command(UNKNOWN)
    if line.isdigit():
        return Command(CHOOSE, (line,))
    if _ORDER_NUMBER.match(line):
        return Command(ORDER_NUMBER, (line.upper(),))
    for word in _ORDERED:
        if not line.startswith(word):
            continue
        tail = line[len(word):]
        if tail and _is_ascii_word(word) and not tail[0].isspace():
            continue  # "cartoon" is not "cart"
        command, fixed = _KEYWORDS[word]
        if tail and (command not in _TAKES_ARGS or word in _WHOLE_LINE):
            continue
        # Keywords are ASCII or CJK, whose case folding keeps the length, so the
        # argument sits at the same offset in the line as typed.
        rest = base[len(word):].strip()
        args = tuple(rest.casefold().split()) if rest else ()
        if fixed is not None:
            args = (fixed, *args)
        return Command(command, args, _lang_of(word), rest, exact=not rest)
    return Command(UNKNOWN, rest=original)


def positive_int(token: str) -> int | None:
    """``token`` as an integer >= 1, or None (also for zero, signs and huge values)."""
    if not token.isdigit() or len(token) > 9:
        return None
    value = int(token)
    return value if value >= 1 else None


def whole_number(token: str) -> int | None:
    """``token`` as an integer >= 0, or None."""
    if not token.isdigit() or len(token) > 9:
        return None
    return int(token)
