"""The dialogue engine as a table of conversations: what the user sends, what the shop
answers (events), and the reply substrings and intents expected at each step.

Every step runs the pure engine only; between steps the state goes through JSON,
as it does through Redis in production.
"""
from __future__ import annotations

from dataclasses import dataclass

import pytest

from bots.dialogue import events as ev
from bots.dialogue import intents as it
from bots.dialogue.engine import Context, on_event, on_input, referrer_id
from bots.dialogue.keys import (
    ALL_MENU_KEYS,
    CLICK_KEYS,
    MENU_CART,
    MENU_CATEGORIES,
    MENU_DIST_APPLY,
    MENU_DIST_CODE,
    MENU_DIST_POSTER,
    MENU_DIST_QR,
    MENU_DIST_TEAM,
    MENU_DISTRIBUTOR,
    MENU_HELP,
    MENU_ORDERS,
    MENU_SEARCH,
)
from bots.dialogue.state import State
from bots.messages import ArticleReply, Inbound, InboundKind, TextReply

T0 = 1_700_000_000.0
TOKEN = "tok-1"
N1 = "CS2024010112000012345678"
N2 = "CS2024010112050087654321"
PAY1 = f"http://shop.test/h5/pay/{N1}"


@dataclass(frozen=True)
class Step:
    """One exchange: ``send`` is typed text, an Inbound, or an event from the shop."""

    send: object
    says: tuple[str, ...] = ()
    does: tuple[object, ...] | None = None  # None: not checked; (): no intents
    at: float = 0.0  # seconds after T0
    lacks: tuple[str, ...] = ()


def U(text: str, *says: str, does=None, at: float = 0.0, lacks=()) -> Step:  # noqa: N802
    return Step(text, says, does, at, tuple(lacks))


def E(event: object, *says: str, does=None, lacks=()) -> Step:  # noqa: N802
    return Step(event, says, does, 0.0, tuple(lacks))


def Do(kind: InboundKind, text: str = "", *says: str, scene=None, does=None,  # noqa: N802
      at: float = 0.0) -> Step:
    return Step(Inbound(kind, text, scene), says, does, at)


# -- shop answers used by the conversations ------------------------------------------------

CATEGORIES = ev.CategoriesListed(((3, "水果"), (4, "茶叶")))
APPLES = tuple(ev.ProductItem(10 + n, f"苹果{n}", 1200 + n, 1200 + n, 5) for n in range(1, 6))
PAGE1 = ev.ProductsListed(APPLES, 1, 2, 7, category_id=3, category_name="水果")
PAGE2 = ev.ProductsListed(
    (ev.ProductItem(16, "苹果6", 1300, 1500, 0), ev.ProductItem(17, "苹果7", 990, 990, 2)),
    2, 2, 7, category_id=3, category_name="水果",
)
APPLE = ev.ProductShown(
    11, "红富士苹果", "脆甜多汁", "http://shop.test/img/apple.jpg", "http://shop.test/img/apple.jpg",
    (ev.SkuItem(101, "standard", 1234, 5),),
)
TEA = ev.ProductShown(
    12, "龙井", "", "", "http://shop.test/",
    (ev.SkuItem(201, "50g", 5000, 3), ev.SkuItem(202, "100g", 9000, 0)),
)
SOLD_OUT = ev.ProductShown(13, "荔枝", "", "", "http://shop.test/", (ev.SkuItem(301, "", 800, 0),))
LINES = (
    ev.CartItemLine(101, 11, "红富士苹果", "standard", 1234, 2),
    ev.CartItemLine(201, 12, "龙井", "50g", 5000, 1),
)
CART = ev.CartShown(LINES)
ADDED = ev.CartShown(LINES[:1], added=("红富士苹果", 2))
READY_NEW = ev.CheckoutReady(LINES[:1], ())
HOME = ev.AddressItem(7, "张三", "13800138000", "上海市浦东新区世纪大道100号")
READY_SAVED = ev.CheckoutReady(LINES[:1], (HOME,))
CREATED = ev.OrderCreated(N1, 2468, PAY1, 30)
ORDERS = ev.OrdersListed(
    (ev.OrderItem(N1, "pending_payment", 2468, "01-02 12:00", 2),
     ev.OrderItem(N2, "paid", 5000, "01-02 12:05", 1)),
    1, 1, 2,
)
ORDER1 = ev.OrderShown(
    N1, "pending_payment", 2468, 0, "01-02 12:00", (ev.OrderLineItem("红富士苹果", "", 2, 2468),),
    "张三", "13800138000", "上海市浦东新区世纪大道100号", PAY1,
)


def ask_address(field: str, recipient: str = "", phone: str = "", detail: str = ""):
    return (it.CheckAddress(field, recipient=recipient, phone=phone, detail=detail),)


CONVERSATIONS: dict[str, list[Step]] = {
    "help in both languages, with ? and a full-width ？": [
        U("帮助", "可以这样跟我说", "加购 2", does=()),
        U("help", "Things you can say", "add 2", does=()),
        U("?", "Things you can say"),  # a sign keeps the language last used
        U("？", "Things you can say"),
        U("HELP", "Things you can say"),
        U("说明", "可以这样跟我说"),
    ],
    "menu, and numbers pick from it": [
        U("菜单", "1. 商品分类", "5. 分销中心", does=()),
        U("1", does=(it.ShowCategories(),)),
        U("menu", "1. Categories", "5. Distributor centre"),
        U("3", does=(it.ShowCart(),)),
        U("menu"),
        U("2", "What are you looking for", does=()),
        U("red apples", does=(it.SearchProducts("red apples"),)),
        U("菜单"),
        U("6", "可以这样跟我说"),
        U("菜单"),
        U("7", "1 到 6", does=()),
        U("菜单"),
        U("0", "1 到 6", does=()),
    ],
    "categories, product pages, next and previous": [
        U("分类", does=(it.ShowCategories(),)),
        E(CATEGORIES, "1. 水果", "2. 茶叶"),
        U("1", does=(it.ShowProducts(3),)),
        E(PAGE1, "【水果】", "第 1/2 页", "1. 苹果1 ¥12.01", "5. 苹果5 ¥12.05", "下一页"),
        U("下一页", does=(it.ShowProducts(3, 2),)),
        E(PAGE2, "第 2/2 页", "1. 苹果6 ¥13.00 起（售罄）", "2. 苹果7 ¥9.90"),
        U("下一页", "最后一页", does=()),
        U("上一页", does=(it.ShowProducts(3, 1),)),
        E(PAGE1),
        U("上一页", "第一页", does=()),
        U("next", does=(it.ShowProducts(3, 2),)),
        E(PAGE2, "(page 2/2)", "from ¥13.00 (sold out)"),
        U("more", "last page"),
        U("prev", does=(it.ShowProducts(3, 1),)),
        E(PAGE1),
        U("9", "from 1 to 5", does=()),
        U("５", does=(it.ShowProduct(15),)),
    ],
    "categories in English": [
        U("categories", does=(it.ShowCategories(),)),
        E(CATEGORIES, "Categories:", "2. 茶叶", "Reply with a number"),
        U("２", does=(it.ShowProducts(4),)),
        E(ev.ProductsListed((), 1, 1, 0, category_id=4, category_name="茶叶"), "No products"),
        E(ev.CategoriesListed(()), "no categories"),
    ],
    "product detail and adding with a quantity": [
        U("分类"), E(CATEGORIES), U("1"), E(PAGE1),
        U("1", does=(it.ShowProduct(11),)),
        E(APPLE, "红富士苹果", "¥12.34", "库存 5 件", "脆甜多汁", "加购 2"),
        U("加购 2", does=(it.AddToCart(101, 2),)),
        E(ADDED, "已加入购物车：红富士苹果 × 2", "¥24.68", "结算"),
        U("加购", does=(it.AddToCart(101, 1),)),
        U("加购 1 3", does=(it.AddToCart(101, 3),)),
        U("add 2", does=(it.AddToCart(101, 2),)),
        E(ADDED, "Added to your cart", "¥24.68"),
        U("ADD　３", does=(it.AddToCart(101, 3),)),
        U("加入购物车 1", does=(it.AddToCart(101, 1),)),
        U("buy 4", does=(it.AddToCart(101, 4),)),
        U("2", does=(it.ShowProduct(12),)),  # the product list is still the last list
    ],
    "bad quantities": [
        U("加购 2", "请先选一个商品", does=()),
        U("分类"), E(CATEGORIES), U("1"), E(PAGE1), U("1"), E(APPLE),
        U("加购 0", "正整数", does=()),
        U("加购 -1", "正整数", does=()),
        U("加购 abc", "正整数", does=()),
        U("加购 1.5", "正整数", does=()),
        U("加购 6", "只剩 5 件", does=()),
        U("加购 99999999999", "正整数", does=()),
        U("加购 1 2 3", "正整数", does=()),
        U("加购 2 1", "没有第 2 个规格", does=()),
        U("add 0", "whole number", does=()),
        U("add 9", "only 5 left", does=()),
    ],
    "a product with several options": [
        U("搜索 龙井"), E(ev.ProductsListed((ev.ProductItem(12, "龙井", 5000, 9000, 3),), 1, 1, 1,
                                          query="龙井"), "搜索「龙井」的结果", "¥50.00 起"),
        U("1", does=(it.ShowProduct(12),)),
        E(TEA, "1. 50g ¥50.00（库存 3）", "2. 100g ¥90.00（库存 0）", "加购 规格序号 数量"),
        U("加购 2", "2 个规格", does=()),
        U("加购", "2 个规格", does=()),
        U("加购 1 2", does=(it.AddToCart(201, 2),)),
        U("加购 2 1", "这个规格已经卖完了", does=()),
        U("加购 1 4", "只剩 3 件", does=()),
        U("加购 3 1", "没有第 3 个规格", does=()),
    ],
    "several sizes: a quantity alone lists them and a number picks one": [
        U("搜索 龙井"), E(ev.ProductsListed((ev.ProductItem(12, "龙井", 5000, 9000, 3),), 1, 1, 1,
                                          query="龙井")),
        U("1"), E(TEA),
        U("加购 2", "这个商品有 2 个规格", "1. 50g ¥50.00（库存 3）",
          "2. 100g ¥90.00（库存 0）（售罄）", "回复规格序号", does=()),
        U("3", "1 到 2", "规格序号", does=()),
        U("2", "这个规格已经卖完了", does=()),  # still waiting: another size may be picked
        U("大的", "没看懂", "规格序号", does=()),
        U("1", does=(it.AddToCart(201, 2),)),
        E(ev.CartShown((LINES[1],), added=("龙井", 2), added_sku="50g"),
          "已加入购物车：龙井（50g） × 2"),
        U("1", does=(it.ShowProduct(12),)),  # the size is chosen: "1" is the list's again
    ],
    "several sizes in English, and the step's refusals": [
        U("search tea"), E(ev.ProductsListed((ev.ProductItem(12, "龙井", 5000, 9000, 3),), 1, 1, 1,
                                            query="tea")),
        U("1"), E(TEA),
        U("add 2", "comes in 2 options", "1. 50g ¥50.00 (3 in stock)", "option's number",
          does=()),
        U("１", does=(it.AddToCart(201, 2),)),
        E(ev.CartShown((LINES[1],), added=("龙井", 2), added_sku="50g"),
          "Added to your cart: 龙井（50g） × 2"),
        U("add 5", "comes in 2 options", does=()),
        U("1", "only 3 left", does=()),
        U("cancel", "cancelled", does=()),
        U("1", does=(it.ShowProduct(12),)),
        E(TEA), U("add"), U("categories", does=(it.ShowCategories(),)),  # a command leaves it
        E(CATEGORIES), U("1", does=(it.ShowProducts(3),)),
        E(PAGE1), U("1"), E(TEA), U("add 1"),
        U("2", "more than 30 minutes", does=(), at=3600),
    ],
    "adding beyond the stock left in the shop": [
        U("分类"), E(CATEGORIES), U("1"), E(PAGE1), U("1"), E(APPLE),
        U("加购 5", does=(it.AddToCart(101, 5),)),
        E(ev.Failed("AddToCart", "short_stock", "only 5 left", stock=5, in_cart=5),
          "只剩 5 件", "已经全部在你的购物车里了", lacks=("¥0.00",)),
        U("加购 3", does=(it.AddToCart(101, 3),)),
        E(ev.Failed("AddToCart", "short_stock", "only 5 left", stock=5, in_cart=4),
          "只剩 5 件", "已有 4 件", "最多还能加 1 件"),
        U("add 2"),
        E(ev.Failed("AddToCart", "short_stock", "only 5 left", stock=5, in_cart=4),
          "only 5 left and 4 already in your cart", "at most 1 more"),
        U("购物车"), E(CART), U("改 1 9", does=(it.SetCartQuantity(101, 9),)),
        E(ev.Failed("SetCartQuantity", "short_stock", "only 5 left", stock=5),
          "只剩 5 件"),
    ],
    "a cart never shows a zero total for lines it has": [
        U("购物车"),
        E(ev.CartShown((
            LINES[0],
            ev.CartItemLine(201, 12, "龙井", "50g", 5000, 1, available=False, off_sale=True),
            ev.CartItemLine(301, 13, "荔枝", "", 800, 121, available=False, stock=120),
        )),
          "1. 红富士苹果 ¥12.34 × 2 = ¥24.68",
          "2. 龙井（50g） ¥50.00 × 1 = ¥50.00（已下架，不计入合计）",
          "3. 荔枝 ¥8.00 × 121 = ¥968.00（库存不足：只剩 120 件，不计入合计）",
          "可下单合计 ¥24.68（2 项暂不能下单，未计入"),
        U("分类"), E(CATEGORIES), U("1"), E(PAGE1), U("1"), E(APPLE), U("加购 1"),
        E(ev.CartShown((ev.CartItemLine(301, 13, "荔枝", "", 800, 121, available=False,
                                        stock=120), LINES[0]), added=("红富士苹果", 1)),
          "已加入购物车：红富士苹果 × 1", "购物车共 123 件，可下单合计 ¥24.68；1 项暂不能下单"),
    ],
    "a phone number is not a name or a street, and nothing is saved before the order": [
        U("结算"), E(READY_NEW),
        U("13912345678", does=ask_address("recipient", "13912345678")),
        E(ev.AddressChecked("recipient", False, message="not a phone", reason="recipient_is_phone"),
          "看起来是手机号", "收货人姓名"),
        U("张三"), E(ev.AddressChecked("recipient", True, "张三")),
        U("+86 139 1234 5678", does=ask_address("phone", "张三", "+86 139 1234 5678")),
        E(ev.AddressChecked("phone", True, "13912345678"), "详细收货地址"),
        U("+86 139 1234 5678",
          does=ask_address("detail", "张三", "13912345678", "+86 139 1234 5678")),
        E(ev.AddressChecked("detail", False, message="a phone", reason="detail_is_phone"),
          "这是手机号，不是地址", lacks=("请确认订单",)),
        U("上海市浦东新区世纪大道100号"),
        E(ev.AddressChecked("detail", True, "上海市浦东新区世纪大道100号"), "请确认订单",
          "139****5678", does=()),
        U("取消", "已取消", does=()),  # nothing was asked to be saved, nothing is
        U("确认", "没有等待确认的订单", does=()),
    ],
    "a sold-out product": [
        U("分类"), E(CATEGORIES), U("1"), E(PAGE1), U("2"),
        E(SOLD_OUT, "已售罄", "卖完了"),
        U("加购 1", "卖完了", does=()),
    ],
    "viewing and editing the cart": [
        U("改 1 3", "先回复「购物车」", does=()),
        U("购物车", does=(it.ShowCart(),)),
        E(CART, "1. 红富士苹果 ¥12.34 × 2 = ¥24.68", "2. 龙井（50g） ¥50.00 × 1 = ¥50.00",
          "合计 ¥74.68", "改 序号 数量"),
        U("改 1 3", does=(it.SetCartQuantity(101, 3),)),
        E(ev.CartShown(LINES, changed=True), "购物车已更新", "合计"),
        U("set 2 0", does=(it.SetCartQuantity(201, 0),)),
        U("删 2", does=(it.SetCartQuantity(201, 0),)),
        U("remove 1", does=(it.SetCartQuantity(101, 0),)),
        U("remove 9", "1 to 2", does=()),
        U("删除 9", "1 到 2", does=()),
        U("改 1 x", "改 序号 数量", does=()),
        U("改 1", "改 序号 数量", does=()),
        U("set 1", "set <line> <quantity>", does=()),
        U("删", "删 序号", does=()),
        U("remove", "remove 1", does=()),
        U("2", does=(it.ShowProduct(12),)),
        U("购物车"), E(CART),
        U("清空", does=(it.ClearCart(),)),
        E(ev.CartShown((), changed=True), "购物车已更新", "购物车是空的"),
        U("改 1 3", "先回复「购物车」", does=()),
        U("clear", does=(it.ClearCart(),)),
        U("cart", does=(it.ShowCart(),)),
        E(ev.CartShown((ev.CartItemLine(101, 11, "红富士苹果", "", 1234, 2, available=False,
                                        stock=1),)),
          "1. 红富士苹果 ¥12.34 × 2 = ¥24.68 (short of stock: only 1 left; not in the total)",
          "Total you can order: ¥0.00 (1 line(s) cannot be ordered now",
          lacks=("Total ¥0.00",)),
    ],
    "checkout with a new address typed step by step, with mistakes": [
        U("结算", does=(it.StartCheckout(),)),
        E(READY_NEW, "本次下单", "红富士苹果 × 2", "合计 ¥24.68", "收货人姓名"),
        U("张三", does=ask_address("recipient", "张三")),
        E(ev.AddressChecked("recipient", True, "张三"), "手机号", does=()),
        U("１２３", does=ask_address("phone", "张三", "123")),
        E(ev.AddressChecked("phone", False, message="phone must be ..."), "11 位手机号", does=()),
        U("138 0013 8000", does=ask_address("phone", "张三", "138 0013 8000")),
        E(ev.AddressChecked("phone", True, "13800138000"), "详细收货地址"),
        U("上海", does=ask_address("detail", "张三", "13800138000", "上海")),
        E(ev.AddressChecked("detail", False, message="too short"), "5 到 200"),
        U("上海市浦东新区世纪大道100号",
          does=ask_address("detail", "张三", "13800138000", "上海市浦东新区世纪大道100号")),
        E(ev.AddressChecked("detail", True, "上海市浦东新区世纪大道100号"),
          "请确认订单", "红富士苹果 × 2", "合计 ¥24.68",
          "张三 138****8000 上海市浦东新区世纪大道100号", "回复「确认」下单", does=()),
        U("3", "回复「确认」下单", does=()),
        U("确认", does=(it.ConfirmOrder(TOKEN, None, "张三", "13800138000",
                                       "上海市浦东新区世纪大道100号", save_address=True),)),
        E(CREATED, "下单成功", N1, "¥24.68", "30 分钟", PAY1),
        U("确认", "已经提交过了", PAY1, does=()),
        U("confirm", "already placed", PAY1, does=()),
    ],
    "a bad recipient name is asked again": [
        U("checkout"), E(READY_NEW, "Who is the recipient"),
        U("x" * 40, does=ask_address("recipient", "x" * 40)),
        E(ev.AddressChecked("recipient", False, message="recipient name must be 1 to 32"),
          "1 to 32 characters"),
        U("Amy", does=ask_address("recipient", "Amy")),
    ],
    "an address that cannot be saved is still used for the order": [
        U("结算"), E(READY_NEW), U("张三"), E(ev.AddressChecked("recipient", True, "张三")),
        U("13800138000"), E(ev.AddressChecked("phone", True, "13800138000")),
        U("北京市海淀区中关村大街1号"),
        E(ev.AddressChecked("detail", True, "北京市海淀区中关村大街1号"), "请确认订单"),
        U("确认", does=(
            it.ConfirmOrder(TOKEN, None, "张三", "13800138000", "北京市海淀区中关村大街1号",
                            save_address=True),
        )),
        E(ev.OrderCreated(N1, 2468, PAY1, 30, address_not_saved="at most 20 saved addresses"),
          "下单成功", "地址没能保存", "at most 20"),
    ],
    "checkout with a saved address": [
        U("结算"),
        E(READY_SAVED, "1. 张三 138****8000 上海市浦东新区世纪大道100号", "0. 填写新地址"),
        U("2", "1 到 1", does=()),
        U("确认", "地址序号", does=()),
        U("随便", "地址序号", does=()),
        U("1", "请确认订单", "张三 138****8000", does=()),
        U("确定", does=(it.ConfirmOrder(TOKEN, address_id=7),)),
        E(ev.OrderCreated(N1, 2468, PAY1, 30, duplicate=True), "不会重复下单", PAY1),
    ],
    "checkout with saved addresses but a new one typed": [
        U("结算"), E(READY_SAVED),
        U("0", "收货人姓名", does=()),
        U("李四", does=ask_address("recipient", "李四")),
    ],
    "checkout new address by word": [
        U("checkout"), E(READY_SAVED, "0. A new address"),
        U("new", "recipient's name", does=()),
    ],
    "checkout refusals": [
        U("结算"), E(ev.Failed("StartCheckout", "cart_empty"), "购物车是空的"),
        U("确认", "没有等待确认的订单", does=()),
        U("结算"),
        E(ev.Failed("StartCheckout", "cart_unavailable", subject="荔枝"), "已下架或库存不足：荔枝"),
        U("结算"), E(READY_SAVED), U("1"), U("确认"),
        E(ev.Failed("ConfirmOrder", "out_of_stock", "not enough", "红富士苹果"),
          "库存不足：红富士苹果", "订单没有创建"),
        U("确认", "没有等待确认的订单", does=()),
        U("结算"), E(READY_SAVED), U("1"), U("确认"),
        E(ev.Failed("ConfirmOrder", "in_progress"), "正在提交"),
        U("结算"), E(READY_SAVED), U("1"), U("确认"),
        E(ev.Failed("ConfirmOrder", "internal"), "稍后再试"),
        U("确认", "没有等待确认的订单"),
    ],
    "cancelling a checkout": [
        U("结算"), E(READY_NEW), U("取消", "已取消", does=()),
        U("张三", "没看懂", does=()),
        U("结算"), E(READY_SAVED), U("1"), U("cancel", "cancelled", does=()),
        U("confirm", "no order waiting", does=()),
        U("cancel", "Nothing is in progress", does=()),
        U("退出", "当前没有进行中的操作"),
    ],
    "a command typed during address entry leaves the checkout": [
        U("结算"), E(READY_NEW),
        U("购物车", does=(it.ShowCart(),)),
        U("张三", "没看懂", does=()),
        U("结算"), E(READY_NEW),
        U("help", "Things you can say", does=()),
        U("Amy", does=ask_address("recipient", "Amy")),  # help keeps the checkout going
    ],
    "an expired checkout says so": [
        U("结算"), E(READY_SAVED), U("1"),
        U("确认", "超过 30 分钟", "结算", does=(), at=31 * 60),
        U("确认", "没有等待确认的订单", at=31 * 60 + 5),
    ],
    "an expired address entry says so": [
        U("结算"), E(READY_NEW),
        U("张三", "超过 30 分钟", does=(), at=3600),
    ],
    "an expired list says so, a fresh command still works": [
        U("分类"), E(CATEGORIES),
        U("1", "列表已经过期", does=(), at=1801),
        U("分类", does=(it.ShowCategories(),), at=1802),
        E(CATEGORIES),
        U("next", at=1803),
        U("1", does=(it.ShowProducts(3),), at=1803 + 1799),
        E(PAGE1), U("1"), E(APPLE),
        U("加购 1", "列表已经过期", does=(), at=2 * 3600),
    ],
    "an expired checkout is dropped by a new command without fuss": [
        U("结算"), E(READY_SAVED), U("1"),
        U("分类", does=(it.ShowCategories(),), at=3600),
        E(CATEGORIES, "水果", lacks=("超过",)),
    ],
    "orders: list, detail, cancel": [
        U("订单", does=(it.ShowOrders(),)),
        E(ORDERS, "我的订单（第 1/1 页）", f"1. {N1} 待付款 ¥24.68（01-02 12:00）",
          f"2. {N2} 已付款 ¥50.00", "取消 序号"),
        U("1", does=(it.ShowOrder(N1),)),
        E(ORDER1, f"订单 {N1}（待付款）", "红富士苹果 × 2", "138****8000", PAY1),
        U("订单 2", does=(it.ShowOrder(N2),)),
        U("取消 1", does=(it.CancelOrder(N1),)),
        E(ev.OrderCancelled(N1), "已取消"),
        U("cancel 2", does=(it.CancelOrder(N2),)),
        E(ev.Failed("CancelOrder", "cancel_status", "only unpaid", "paid"),
          "Only unpaid orders", "this one is paid"),
        U("取消 3", "1 到 2", does=()),
        U("取消订单 1", does=(it.CancelOrder(N1),)),
        U(N1.lower(), does=(it.ShowOrder(N1),)),
        U(f"取消 {N2}", does=(it.CancelOrder(N2),)),
        E(ev.Failed("ShowOrder", "not_found", "order not found"), "找不到这个订单"),
        U("my orders", does=(it.ShowOrders(),)),
        E(ev.OrdersListed((), 1, 1, 0), "no orders yet"),
    ],
    "orders need a list before a position": [
        U("取消 1", "找不到这个订单", does=()),
        U("cancel 1", "No such order", does=()),
        U("订单 3", "找不到这个订单", does=()),
    ],
    "orders paging": [
        U("orders"),
        E(ev.OrdersListed(ORDERS.items, 1, 3, 12), "(page 1/3)", "next"),
        U("next", does=(it.ShowOrders(2),)),
        E(ev.OrdersListed(ORDERS.items, 2, 3, 12)),
        U("prev", does=(it.ShowOrders(1),)),
    ],
    "refunds: with a reason, asked for a reason, refused": [
        U("退款", does=(it.ShowOrders(purpose="refund"),)),
        E(ev.OrdersListed(ORDERS.items, 1, 1, 2, purpose="refund"), "退款 序号 原因"),
        U("退款 2 不想要了", does=(it.RequestRefund(N2, "不想要了"),)),
        E(ev.RefundRequested(N2, 5000), "退款申请已提交", N2, "¥50.00"),
        U("退款2 买错了 颜色不对", does=(it.RequestRefund(N2, "买错了 颜色不对"),)),
        U("refund 2", "Why do you want a refund", does=()),
        U("Broken on Arrival", does=(it.RequestRefund(N2, "Broken on Arrival"),)),
        E(ev.Failed("RequestRefund", "refund_shipped", "part of this order has shipped"),
          "already shipped", "customer service"),
        U("退款 1 不要了", does=(it.RequestRefund(N1, "不要了"),)),
        E(ev.Failed("RequestRefund", "refund_unpaid"), "还没有付款", "取消 序号"),
        U("退款 2 再试"),
        E(ev.Failed("RequestRefund", "refund_status", "busy", "refunding"),
          "退款中", "不能申请退款"),
        U(f"refund {N2} late", does=(it.RequestRefund(N2, "late"),)),
        U("退款 2 " + "很" * 201, "200 字以内", does=()),
        U("太长了吧", does=(it.RequestRefund(N2, "太长了吧"),)),
        U("退款 9 不要了", "1 到 2", does=()),
        U("退款 2"), U("取消", "已取消", does=()),
    ],
    "search in both languages, prompted and too long": [
        U("搜索 苹果", does=(it.SearchProducts("苹果"),)),
        U("搜索苹果", does=(it.SearchProducts("苹果"),)),
        U("search Green Tea", does=(it.SearchProducts("Green Tea"),)),
        E(ev.ProductsListed((), 1, 1, 0, query="Green Tea"), "Nothing found for \"Green Tea\""),
        U("搜索", "请输入关键词", does=()),
        U("绿茶", does=(it.SearchProducts("绿茶"),)),
        U("find", "Type a keyword", does=()),
        U("分类", does=(it.ShowCategories(),)),  # a command is not a search term
        U("search " + "x" * 40, "too long", does=()),
        U("搜 红茶", does=(it.SearchProducts("红茶"),)),
    ],
    "search result pages": [
        U("search apple"), E(ev.ProductsListed(APPLES, 1, 2, 7, query="apple")),
        U("next", does=(it.SearchProducts("apple", 2),)),
    ],
    "earnings: balances, the latest lines, and a debt said plainly": [
        U("收益", does=(it.ShowEarnings(),)),
        E(ev.EarningsShown(30000, 12345, 0, 0, 0, (
            ev.EarningLine("CS001", 1, 500, "pending"),
            ev.EarningLine("CS002", 2, -200, "reversed"),
        )), "我的收益", "待结算 ¥300.00", "可提现 ¥123.45", "订单 CS001 一级 ¥5.00（待结算）",
          "订单 CS002 二级 -¥2.00（已退款）"),
        U("earnings", does=(it.ShowEarnings(),)),
        E(ev.EarningsShown(0, 0, 0, 0, 700, ()), "My earnings", "No commission yet.",
          "¥7.00 owed"),
    ],
    "withdraw: an amount in yuan becomes fen, alone it shows what is available": [
        U("提现", does=(it.ShowWithdrawal(),)),
        E(ev.WithdrawalInfo(12345, 500, 0, 100), "可提现 ¥123.45", "提现中 ¥5.00",
          "最低 ¥1.00", "提现 50"),
        U("提现 50", does=(it.RequestWithdrawal(5000),)),
        E(ev.WithdrawalRequested("WD20261127ABC", 5000, 7345), "提现申请已提交：¥50.00",
          "WD20261127ABC", "剩余可提现 ¥73.45"),
        U("提现50", does=(it.RequestWithdrawal(5000),)),
        U("提现 12.5", does=(it.RequestWithdrawal(1250),)),
        U("提现 0.05元", does=(it.RequestWithdrawal(5),)),
        U("提现 ¥8", does=(it.RequestWithdrawal(800),)),
        U("提现 50 元", does=(it.RequestWithdrawal(5000),)),
        U("withdraw 50", does=(it.RequestWithdrawal(5000),)),
        U("withdraw 3.99 yuan", does=(it.RequestWithdrawal(399),)),
        E(ev.WithdrawalRequested("WD1", 399, 0), "Withdrawal requested: ¥3.99", "WD1"),
        U("withdraw", does=(it.ShowWithdrawal(),)),
        E(ev.WithdrawalInfo(0, 0, 0, 100), "Nothing to withdraw yet", "¥1.00"),
        E(ev.WithdrawalInfo(0, 300, 1500, 100), "¥15.00 owed"),
    ],
    "withdraw: amounts that are not money are never sent to the shop": [
        U("提现 0", "金额看不懂", does=()),
        U("提现 -5", "金额看不懂", does=()),
        U("提现 1.234", "金额看不懂", does=()),
        U("提现 abc", "金额看不懂", does=()),
        U("提现 1e3", "金额看不懂", does=()),
        U("提现 5 0", "金额看不懂", does=()),
        U("提现 9999999999", "金额看不懂", does=()),
        U("withdraw 1,000", "could not read that amount", does=()),
    ],
    "withdraw: the shop's refusals said plainly": [
        U("提现 50"),
        E(ev.Failed("RequestWithdrawal", "withdraw_insufficient", "only 20.00", "2000"),
          "可提现余额不够：现在可提现 ¥20.00", "提现 50"),
        U("提现 50"),
        E(ev.Failed("RequestWithdrawal", "withdraw_debt", "you owe", "1500"), "欠款 ¥15.00"),
        U("提现 0.5"),
        E(ev.Failed("RequestWithdrawal", "withdraw_below_min", "smallest", "100"),
          "单次提现最低 ¥1.00"),
        U("提现 50"),
        E(ev.Failed("RequestWithdrawal", "frozen"), "冻结"),
        U("withdraw 50"),
        E(ev.Failed("RequestWithdrawal", "not_distributor"), "not a distributor"),
        U("提现"),
        E(ev.Failed("ShowWithdrawal", "pending"), "审核中"),
        U("提现 50"),
        E(ev.Failed("RequestWithdrawal", "conflict", "busy"), "提现没有办成：busy"),
    ],
    "distributor centre: the menu, numbers and words lead to the same intents": [
        U("分销", "分销中心", "1. 申请成为分销员", "2. 我的邀请码", "7. 提现", does=()),
        U("1", does=(it.ApplyDistributor(),)),
        U("分销"), U("2", does=(it.ShowInviteCode(),)),
        U("分销"), U("3", does=(it.ShowQrCode(),)),
        U("分销"), U("4", does=(it.RequestPoster(),)),
        U("分销"), U("5", does=(it.ShowTeam(),)),
        U("分销"), U("6", does=(it.ShowEarnings(),)),
        U("分销"), U("7", does=(it.ShowWithdrawal(),)),
        U("分销"), U("8", "1 到 7", does=()),
        U("distributor", "Distributor centre", "3. My QR code", "bind <code>"),
        U("6", does=(it.ShowEarnings(),)),
        U("withdraw", does=(it.ShowWithdrawal(),)),
        U("申请分销", does=(it.ApplyDistributor(),)),
        U("apply", does=(it.ApplyDistributor(),)),
        U("我的邀请码", does=(it.ShowInviteCode(),)),
        U("邀请码", does=(it.ShowInviteCode(),)),
        U("my code", does=(it.ShowInviteCode(),)),
        U("我的二维码", does=(it.ShowQrCode(),)),
        U("qr", does=(it.ShowQrCode(),)),
        U("海报", does=(it.RequestPoster(),)),
        U("poster", does=(it.RequestPoster(),)),
        U("我的团队", does=(it.ShowTeam(),)),
        U("team", does=(it.ShowTeam(),)),
        U("分销 5", does=(it.ShowTeam(),)),
        U("分销 team", does=(it.ShowTeam(),)),
    ],
    "applying: approved, pending, short of spend, already, revoked, frozen": [
        U("申请分销", does=(it.ApplyDistributor(),)),
        E(ev.DistributorApplied("active"), "恭喜，你已成为分销员", "「邀请码」"),
        U("申请分销"),
        E(ev.DistributorApplied("active", "active"), "你已经是分销员了", lacks=("恭喜",)),
        U("申请分销"),
        E(ev.DistributorApplied("pending"), "申请已提交", "等待运营审核"),
        U("申请分销"),
        E(ev.DistributorApplied("pending", "pending"), "正在等待运营审核"),
        U("申请分销"),
        E(ev.DistributorApplied("pending", "", 3500, 10000), "满 ¥100.00", "还差 ¥35.00"),
        U("apply"),
        E(ev.DistributorApplied("pending", "rejected", 1, 100), "¥1.00", "¥0.01 to go"),
        U("申请分销"),
        E(ev.Failed("ApplyDistributor", "revoked"), "已被取消", "联系运营"),
        U("apply"),
        E(ev.DistributorApplied("frozen", "frozen"), "frozen", "contact the operator"),
        U("申请分销"),
        E(ev.Failed("ApplyDistributor", "internal"), "稍后再试"),
    ],
    "apply means applying only when it is the whole line": [
        U("apply for a refund", "没看懂", does=()),
        U("申请分销吧", "没看懂", does=()),
        U("申请分销。", does=(it.ApplyDistributor(),)),
    ],
    "distributor tools answer for the user's status": [
        U("邀请码"),
        E(ev.InviteCodeShown("ABCD2345", "http://shop.test/r/ABCD2345"),
          "你的邀请码：ABCD2345", "绑定 ABCD2345", "http://shop.test/r/ABCD2345"),
        U("my code"),
        E(ev.InviteCodeShown("ABCD2345", "http://shop.test/r/ABCD2345"),
          "Your invite code: ABCD2345", "bind ABCD2345"),
        U("二维码"),
        E(ev.QrCodeShown("http://shop.test/qr.png", "ABCD2345"), "我的推广二维码",
          "http://shop.test/qr.png", "邀请码 ABCD2345"),
        U("海报"), E(ev.PosterRequested(), "海报正在生成", "稍后"),
        U("poster"), E(ev.PosterRequested(), "will arrive in a moment"),
        U("二维码"), E(ev.Failed("ShowQrCode", "not_distributor"), "还不是分销员", "申请分销"),
        U("海报"), E(ev.Failed("RequestPoster", "pending"), "正在审核"),
        U("团队"), E(ev.Failed("ShowTeam", "frozen"), "已被冻结"),
        U("邀请码"), E(ev.Failed("ShowInviteCode", "revoked"), "已被取消"),
        U("邀请码"), E(ev.Failed("ShowInviteCode", "rejected"), "没有通过", "重新申请"),
        U("qr"), E(ev.Failed("ShowQrCode", "not_distributor"), "not a distributor yet",
                   "\"apply\""),
        U("qr"), E(ev.Failed("ShowQrCode", "internal"), "try again"),
        U("二维码"), E(ev.Failed("ShowQrCode", "wechat_qrcode", "WeChat said no"),
                      "暂时生成不了", "邀请码", lacks=("WeChat said no",)),
        U("qr"), E(ev.Failed("ShowQrCode", "conflict", "being created"), "try again later"),
    ],
    "my team: head counts and this month's sales by level": [
        U("我的团队", does=(it.ShowTeam(),)),
        E(ev.TeamShown(3, 12, 2026, 11, (ev.LevelSales(1, 2, 25600), ev.LevelSales(2, 0, 0))),
          "直属成员 3 人，团队共 12 人", "2026 年 11 月团队销售", "一级：2 单，¥256.00",
          "二级：0 单，¥0.00", "合计 ¥256.00"),
        U("team"),
        E(ev.TeamShown(0, 0, 2027, 1, (ev.LevelSales(1, 0, 0),)),
          "0 direct member(s), 0 in the whole team", "Team sales in 2027-01",
          "Level 1: 0 order(s), ¥0.00", "Total ¥0.00"),
    ],
    "invite codes typed in the chat": [
        U("邀请码 ABCD2345", does=(it.BindInviteCode("ABCD2345"),)),
        E(ev.InviteCodeBound("bound", "小王"), "绑定成功", "「小王」"),
        U("邀请码abcd2345", does=(it.BindInviteCode("ABCD2345"),)),
        E(ev.InviteCodeBound("already", "小王"), "已经是「小王」"),
        U("绑定 ABCD-2345", does=(it.BindInviteCode("ABCD2345"),)),
        E(ev.InviteCodeBound("kept", "老李"), "已经有推荐人「老李」", lacks=("小王",)),
        U("code abcd 2345", does=(it.BindInviteCode("ABCD2345"),)),
        E(ev.InviteCodeBound("bound", ""), "Done", "your friend"),
        U("invite ABCD2345", does=(it.BindInviteCode("ABCD2345"),)),
        E(ev.InviteCodeBound("kept", "Li"), "You are already with Li"),
        U("bind ABCD2345", does=(it.BindInviteCode("ABCD2345"),)),
        U("绑定ＡＢＣＤ２３４５", does=(it.BindInviteCode("ABCD2345"),)),
        U("绑定 ABC", "8 位字母和数字", does=()),
        U("绑定 ABCD1234", "8 位字母和数字", does=()),  # 1 is never in a code
        U("bind hello", "8 letters and digits", does=()),
        U("绑定", "绑定 邀请码", does=()),
        U("bind", "bind <invite code>", does=()),
        U("绑定 ABCD2345"),
        E(ev.Failed("BindInviteCode", "unknown_code", "no distributor"), "没有找到这个邀请码"),
        U("绑定 ABCD2345"),
        E(ev.Failed("BindInviteCode", "bad_code", "not a code"), "8 位字母和数字"),
        U("绑定 ABCD2345"),
        E(ev.Failed("BindInviteCode", "self", "yourself"), "你自己的邀请码"),
        U("绑定 ABCD2345"),
        E(ev.Failed("BindInviteCode", "distributor_inactive", "inactive"), "不能接受绑定"),
        U("bind ABCD2345"),
        E(ev.Failed("BindInviteCode", "cycle", "loop"), "in your own team"),
        U("绑定 ABCD2345"),
        E(ev.Failed("BindInviteCode", "internal"), "稍后再试"),
    ],
    "an invite code typed as checkout data is data": [
        U("结算"), E(READY_NEW),
        U("邀请码 ABCD2345", does=ask_address("recipient", "邀请码 ABCD2345")),
    ],
    "menu clicks": [
        Do(InboundKind.CLICK, MENU_CATEGORIES, does=(it.ShowCategories(),)),
        Do(InboundKind.CLICK, MENU_CART, does=(it.ShowCart(),)),
        Do(InboundKind.CLICK, MENU_ORDERS, does=(it.ShowOrders(),)),
        Do(InboundKind.CLICK, MENU_DISTRIBUTOR, "分销中心", does=()),
        Do(InboundKind.CLICK, MENU_SEARCH, "请输入关键词", does=()),
        U("毛巾", does=(it.SearchProducts("毛巾"),)),
        Do(InboundKind.CLICK, MENU_HELP, "可以这样跟我说", does=()),
        Do(InboundKind.CLICK, "NO_SUCH_KEY", "可以这样跟我说", does=()),
        Do(InboundKind.CLICK, MENU_DIST_APPLY, does=(it.ApplyDistributor(),)),
        Do(InboundKind.CLICK, MENU_DIST_CODE, does=(it.ShowInviteCode(),)),
        Do(InboundKind.CLICK, MENU_DIST_QR, does=(it.ShowQrCode(),)),
        Do(InboundKind.CLICK, MENU_DIST_POSTER, does=(it.RequestPoster(),)),
        Do(InboundKind.CLICK, MENU_DIST_TEAM, does=(it.ShowTeam(),)),
    ],
    "subscribe: plain, through a distributor's QR code, and a scan by a follower": [
        Do(InboundKind.SUBSCRIBE, "", "欢迎关注", "1. 商品分类", does=()),
        U("1", does=(it.ShowCategories(),)),
        # The WeChat adapter drops the subscribe's "qrscene_"; the binding keeps it.
        Do(InboundKind.SUBSCRIBE, "", scene="dist_42",
           does=(it.BindScene("qrscene_dist_42"),)),
        E(ev.SceneBound("bound", "小王"), "欢迎关注", "你的好友「小王」推荐你", "1. 商品分类"),
        U("1", does=(it.ShowCategories(),)),  # the welcome's menu is the list
        Do(InboundKind.SUBSCRIBE, "", scene="qrscene_dist_42",
           does=(it.BindScene("qrscene_dist_42"),)),
        Do(InboundKind.SCAN, "", scene="dist_42", does=(it.BindScene("dist_42", True),)),
        E(ev.SceneBound("already", "小王", True), "欢迎回来", "「小王」"),
        Do(InboundKind.SUBSCRIBE, "", "欢迎关注", scene="qrscene_promo_7", does=()),
        Do(InboundKind.SCAN, "", "欢迎回来", scene="something", does=()),
        Do(InboundKind.SCAN, "", "欢迎回来", scene="dist_0", does=()),
    ],
    "a scan that binds nobody new never names the scanned distributor": [
        Do(InboundKind.SUBSCRIBE, "", scene="dist_7", does=(it.BindScene("qrscene_dist_7"),)),
        E(ev.SceneBound("kept"), "欢迎关注", "1. 商品分类", lacks=("推荐",)),
        Do(InboundKind.SCAN, "", scene="dist_7"),
        E(ev.SceneBound("refused", returning=True), "欢迎回来", lacks=("推荐",)),
        Do(InboundKind.SCAN, "", scene="dist_7"),
        E(ev.SceneBound("bound", "", True), "欢迎回来", lacks=("推荐",)),  # no nickname
        Do(InboundKind.SUBSCRIBE, "", scene="dist_7"),
        E(ev.Failed("BindScene", "internal"), "欢迎关注", lacks=("稍后再试", "推荐")),
    ],
    "unknown input gets help, never an error": [
        U("asdf", "没看懂「asdf」", "可以这样跟我说", does=()),
        U("cartoon", "没看懂", does=()),
        U("今天天气怎么样", "没看懂", does=()),
        U("好吃吗", "没看懂", does=()),
        U("", "可以这样跟我说", does=()),
        U("   ", "可以这样跟我说", does=()),
        U("5", "没有可以选择的列表", does=()),
        U("下一页", "没有可以翻页的列表", does=()),
        U("x" * 500, "没看懂", does=()),
        U("]]><xml>", "没看懂", does=()),
        Do(InboundKind.MEDIA, "image", "只看得懂文字", "可以这样跟我说", does=()),
        Do(InboundKind.LOCATION, "", "只看得懂文字"),
        Do(InboundKind.LINK, "http://example.com", "只看得懂文字"),
        U("new", "Things you can say", does=()),
    ],
    "the reply language follows the user's": [
        U("cart", does=(it.ShowCart(),)), E(CART, "Your cart", "Total ¥74.68"),
        U("购物车"), E(CART, "购物车：", "合计 ¥74.68"),
        U("ＣＡＲＴ"), E(CART, "Your cart"),
        U("1"), E(APPLE, "5 in stock", "add <quantity>"),
    ],
    "shop failures are explained": [
        U("分类"), E(CATEGORIES), U("1"), E(PAGE1), U("1"),
        E(ev.Failed("ShowProduct", "not_found", "product not found"), "已经下架"),
        U("加购 1", "请先选一个商品"),
        U("1"), E(APPLE), U("加购 1"),
        E(ev.Failed("AddToCart", "invalid_input", "at most 999 of one item"),
          "购物车没有改成", "at most 999"),
        U("分类"), E(ev.Failed("ShowCategories", "internal"), "稍后再试"),
        U("订单 1"), U("订单"), E(ORDERS), U("1"),
        E(ev.Failed("ShowOrder", "invalid", "odd"), "没有办成：odd"),
    ],
}


@pytest.mark.parametrize("steps", CONVERSATIONS.values(), ids=CONVERSATIONS.keys())
def test_conversation(steps: list[Step]) -> None:
    state = State()
    for number, step in enumerate(steps, 1):
        ctx = Context(now=T0 + step.at, nonce=TOKEN)
        before = state.to_json()
        if isinstance(step.send, str):
            turn = on_input(state, Inbound(InboundKind.TEXT, step.send), ctx)
        elif isinstance(step.send, Inbound):
            turn = on_input(state, step.send, ctx)
        else:
            turn = on_event(state, step.send, ctx)
        assert state.to_json() == before, "the engine must not modify the state it was given"
        said = "\n".join(_text(r) for r in turn.replies)
        where = f"step {number} ({step.send!r}) said:\n{said}"
        for part in step.says:
            assert part in said, where
        for part in step.lacks:
            assert part not in said, where
        if step.does is not None:
            assert turn.intents == step.does, where
        if isinstance(step.send, str) and not turn.intents:
            assert turn.replies, f"step {number}: a typed message got no answer"
        state = State.from_json(turn.state.to_json())


def _text(reply: object) -> str:
    if isinstance(reply, TextReply):
        return reply.text
    assert isinstance(reply, ArticleReply)
    return f"{reply.title}\n{reply.description}\n{reply.image_url}"


def _run(*sends: object, at: float = 0.0, state: State | None = None):
    state = state or State()
    turn = None
    for send in sends:
        ctx = Context(now=T0 + at, nonce=TOKEN)
        if isinstance(send, str):
            turn = on_input(state, Inbound(InboundKind.TEXT, send), ctx)
        elif isinstance(send, Inbound):
            turn = on_input(state, send, ctx)
        else:
            turn = on_event(state, send, ctx)
        state = turn.state
    assert turn is not None
    return turn


def test_product_detail_is_a_news_card_with_picture_then_how_to_add():
    turn = _run("分类", CATEGORIES, "1", PAGE1, "1", APPLE)
    card, how = turn.replies
    assert isinstance(card, ArticleReply)
    assert card.title == "红富士苹果"
    assert card.image_url == "http://shop.test/img/apple.jpg"
    assert "¥12.34" in card.description and "库存 5 件" in card.description
    assert isinstance(how, TextReply) and "加购 2" in how.text
    assert turn.state.product == {"id": 11, "title": "红富士苹果",
                                  "skus": [[101, "standard", 1234, 5]]}


def test_one_message_per_turn_except_the_product_card():
    turn = _run("订单", ORDERS)
    assert len(turn.replies) == 1
    turn = _run("结算", READY_SAVED)
    assert len(turn.replies) == 1


def test_each_confirmation_gets_its_own_token():
    first = _run("结算", READY_SAVED, "1")
    assert first.state.flow["token"] == TOKEN
    again = on_input(first.state, Inbound(InboundKind.TEXT, "结算"), Context(T0, nonce="tok-2"))
    again = on_event(again.state, READY_SAVED, Context(T0, nonce="tok-2"))
    again = on_input(again.state, Inbound(InboundKind.TEXT, "1"), Context(T0, nonce="tok-2"))
    assert again.state.flow["token"] == "tok-2"


def test_unsubscribe_forgets_everything_and_says_nothing():
    busy = _run("结算", READY_SAVED, "1").state
    turn = on_input(busy, Inbound(InboundKind.UNSUBSCRIBE), Context(T0))
    assert turn.replies == () and turn.intents == ()
    assert turn.state.flow is None and turn.state.listing is None


@pytest.mark.parametrize(
    "inbound",
    [
        Inbound(InboundKind.VIEW, "http://x"),
        Inbound(InboundKind.OTHER, "event:templatesendjobfinish"),
    ],
)
def test_events_that_need_no_answer_get_none(inbound):
    turn = on_input(State(), inbound, Context(T0))
    assert turn.replies == () and turn.intents == ()


def test_an_unknown_message_type_gets_help():
    turn = on_input(State(), Inbound(InboundKind.OTHER, "miniprogrampage"), Context(T0))
    assert len(turn.replies) == 1
    assert "菜单" in turn.replies[0].text


def test_idle_time_is_configurable():
    state = _run("分类", CATEGORIES).state
    turn = on_input(state, Inbound(InboundKind.TEXT, "1"), Context(T0 + 120, idle_seconds=60))
    assert "过期" in turn.replies[0].text


def test_a_distributor_menu_shown_before_it_grew_still_means_what_it_showed():
    # A state saved by the previous version listed five items; "2" was the QR code then.
    old = State(touched=T0, listing={"kind": "distributor",
                                     "ids": ["apply", "qr", "team", "earnings", "withdraw"]})
    assert _run("2", state=old).intents == (it.ShowQrCode(),)
    assert _run("3", state=old).intents == (it.ShowTeam(),)


def test_the_qr_code_is_one_news_card_opening_the_picture():
    turn = _run("二维码", ev.QrCodeShown("http://shop.test/qr/1.png", "ABCD2345"))
    (card,) = turn.replies
    assert isinstance(card, ArticleReply)
    assert card.image_url == card.url == "http://shop.test/qr/1.png"
    assert "ABCD2345" in card.description


def test_menu_keys_are_distinct_and_all_understood():
    assert len(set(CLICK_KEYS)) == len(CLICK_KEYS)
    assert set(ALL_MENU_KEYS) <= set(CLICK_KEYS)
    for key in CLICK_KEYS:
        turn = on_input(State(), Inbound(InboundKind.CLICK, key), Context(T0))
        assert turn.replies or turn.intents


@pytest.mark.parametrize(
    ("scene", "expected"),
    [("dist_42", 42), ("qrscene_dist_7", 7), (" dist_3 ", 3), ("dist_", None), ("dist_x", None),
     ("promo_1", None), ("", None), (None, None), ("dist_" + "9" * 30, None),
     ("dist_0", None), ("dist_007", None)],
)
def test_referrer_scene(scene, expected):
    assert referrer_id(scene) == expected


@pytest.mark.parametrize(
    ("zh", "en", "intent"),
    [
        ("分类", "categories", it.ShowCategories()),
        ("购物车", "cart", it.ShowCart()),
        ("结算", "checkout", it.StartCheckout()),
        ("订单", "orders", it.ShowOrders()),
        ("退款", "refund", it.ShowOrders(purpose="refund")),
        ("搜索 茶", "search 茶", it.SearchProducts("茶")),
        ("清空", "clear", it.ClearCart()),
    ],
)
def test_every_command_in_both_languages(zh, en, intent):
    for text, lang in ((zh, "zh"), (en, "en")):
        turn = on_input(State(), Inbound(InboundKind.TEXT, text), Context(T0))
        assert turn.intents == (intent,), text
        assert turn.state.lang == lang


@pytest.mark.parametrize(
    ("zh", "en", "zh_says", "en_says"),
    [
        ("菜单", "menu", "1. 商品分类", "1. Categories"),
        ("帮助", "help", "可以这样跟我说", "Things you can say"),
        ("分销", "distributor", "分销中心", "Distributor centre"),
        ("取消", "cancel", "当前没有进行中的操作", "Nothing is in progress"),
        ("下一页", "next", "没有可以翻页的列表", "no list to page through"),
        ("上一页", "prev", "没有可以翻页的列表", "no list to page through"),
        ("确认", "confirm", "没有等待确认的订单", "no order waiting"),
        ("加购 2", "add 2", "请先选一个商品", "Pick a product first"),
        ("改 1 2", "set 1 2", "先回复「购物车」", "Reply \"cart\" first"),
    ],
)
def test_every_reply_in_both_languages(zh, en, zh_says, en_says):
    for text, says in ((zh, zh_says), (en, en_says)):
        turn = on_input(State(), Inbound(InboundKind.TEXT, text), Context(T0))
        assert says in turn.replies[0].text, text


def test_replies_stay_within_wechats_text_limit():
    many = tuple(
        ev.CartItemLine(1000 + n, n, "很长的商品名称" * 5, "规格" * 4, 99999, 999)
        for n in range(50)
    )
    turn = _run("购物车", ev.CartShown(many))
    text = turn.replies[0].text
    assert len(text.encode("utf-8")) <= 2048
    assert "还有 40 项没有显示" in text
    assert len(turn.state.listing["ids"]) == 50
    ready = _run("结算", ev.CheckoutReady(many, (HOME,) * 5))
    assert all(len(r.text.encode("utf-8")) <= 2048 for r in ready.replies)
    assert len(_run("help").replies[0].text.encode("utf-8")) <= 2048
    assert len(_run("帮助").replies[0].text.encode("utf-8")) <= 2048
