"""Everything the shop says, in Chinese and English, and how money and statuses read."""
from __future__ import annotations

from collections.abc import Iterable

# key -> (Chinese, English); fields in braces are filled by ``say``.
TEXTS: dict[str, tuple[str, str]] = {
    "commission_earned": (
        "💰 新佣金：{count} 笔订单为你带来 {total} 佣金（待结算）。"
        "订单完成且过了退货期后转为可提现。发送「收益」查看明细。",
        "💰 New commission: {count} order(s) earned you {total} (pending). It becomes available "
        "once the order completes and the return window has passed. Send \"earnings\" for details.",
    ),
    "welcome": (
        "欢迎关注 ChatShop！在聊天里就能逛、下单、付款。",
        "Welcome to ChatShop! Browse, order and pay right here in the chat.",
    ),
    "welcome_back": ("欢迎回来！", "Welcome back!"),
    "referred": ("你的好友「{name}」推荐你来到这里。", "Your friend {name} invited you here."),
    "menu": (
        "菜单：\n1. 商品分类\n2. 搜索商品\n3. 购物车\n4. 我的订单\n5. 分销中心\n6. 帮助\n"
        "回复序号或文字。For English, reply \"menu\".",
        "Menu:\n1. Categories\n2. Search\n3. Cart\n4. My orders\n5. Distributor centre\n"
        "6. Help\nReply with a number or a word. 中文请回复「菜单」。",
    ),
    "help": (
        "可以这样跟我说：\n"
        "分类 — 浏览商品\n搜索 苹果 — 找商品\n序号（1、2…）— 选列表中的一项\n"
        "下一页 / 上一页 — 翻页\n加购 2 — 把看过的商品加 2 件到购物车\n"
        "购物车 — 查看；改 1 3 改数量；删 1 删除；清空\n结算 — 下单付款\n"
        "订单 — 我的订单；取消 1 — 取消未付款订单；退款 1 原因 — 申请退款\n"
        "分销 — 分销中心；绑定 邀请码 — 绑定推荐人\n取消 — 放弃当前操作\n菜单 — 主菜单",
        "Things you can say:\n"
        "categories — browse\nsearch apple — find products\n"
        "a number (1, 2, ...) — pick from the last list\nnext / prev — turn the page\n"
        "add 2 — put 2 of the product you looked at in the cart\n"
        "cart — view it; set 1 3 changes a quantity; remove 1; clear\n"
        "checkout — order and pay\n"
        "orders — your orders; cancel 1 — cancel an unpaid one; "
        "refund 1 reason — ask for a refund\n"
        "distributor — distributor centre; bind <code> — a friend's invite code\n"
        "cancel — stop what you are doing\nmenu — main menu",
    ),
    "not_understood": ("抱歉，没看懂「{text}」。", "Sorry, I did not understand \"{text}\"."),
    "media": (
        "我目前只看得懂文字消息。",
        "I can only read text messages for now.",
    ),
    "no_list": (
        "现在没有可以选择的列表。回复「菜单」看看能做什么。",
        "There is no list to choose from right now. Reply \"menu\" to see what you can do.",
    ),
    "list_expired": (
        "上次的列表已经过期了，请重新发送「分类」「购物车」或「订单」。",
        "That list has expired; send \"categories\", \"cart\" or \"orders\" again.",
    ),
    "flow_expired": (
        "上次的操作超过 {minutes} 分钟没有完成，已自动取消。"
        "需要的话请重新开始（例如回复「结算」）。",
        "Your last step was left for more than {minutes} minutes and has been cancelled. "
        "Please start again (e.g. reply \"checkout\").",
    ),
    "out_of_range": ("请回复 1 到 {n} 之间的序号。", "Please reply with a number from 1 to {n}."),
    "last_page": ("已经是最后一页了。", "This is the last page."),
    "first_page": ("已经是第一页了。", "This is the first page."),
    "no_pages": (
        "没有可以翻页的列表。回复「分类」或「订单」。",
        "There is no list to page through. Reply \"categories\" or \"orders\".",
    ),
    "cancelled_flow": ("好的，已取消。", "OK, cancelled."),
    "nothing_to_cancel": (
        "当前没有进行中的操作。取消订单请回复「取消 序号」（先发「订单」看序号）。",
        "Nothing is in progress. To cancel an order, reply \"cancel <number>\" "
        "(send \"orders\" to see the numbers).",
    ),
    # Catalogue
    "categories": ("商品分类：", "Categories:"),
    "no_categories": ("店铺还没有商品分类。", "The shop has no categories yet."),
    "pick_category": ("回复序号查看该分类的商品。", "Reply with a number to see its products."),
    "products_title": ("【{name}】", "[{name}]"),
    "search_title": ("搜索「{query}」的结果", "Results for \"{query}\""),
    "page_of": ("第 {page}/{pages} 页", "(page {page}/{pages})"),
    "no_products": ("这个分类暂时没有商品。", "No products in this category yet."),
    "no_results": (
        "没有找到与「{query}」相关的商品，换个词试试？",
        "Nothing found for \"{query}\". Try another word?",
    ),
    "pick_product": (
        "回复序号查看商品详情{paging}。",
        "Reply with a number to see a product{paging}.",
    ),
    "paging_hint": ("，「下一页」「上一页」翻页", "; \"next\" / \"prev\" to turn the page"),
    "from_price": ("{price} 起", "from {price}"),
    "sold_out": ("（售罄）", " (sold out)"),
    "search_prompt": ("想找什么？请输入关键词。", "What are you looking for? Type a keyword."),
    "search_too_long": ("关键词太长了，请简短一些。", "That keyword is too long; keep it short."),
    "product_card": ("{price} · 库存 {stock} 件", "{price} · {stock} in stock"),
    "product_card_sold_out": ("{price} · 已售罄", "{price} · sold out"),
    "how_to_add_one": (
        "要买的话回复「加购 数量」，例如：加购 2",
        "To buy, reply \"add <quantity>\", e.g. add 2",
    ),
    "how_to_add_many": (
        "规格：\n{skus}\n要买的话回复「加购 规格序号 数量」，例如：加购 1 2",
        "Options:\n{skus}\nTo buy, reply \"add <option> <quantity>\", e.g. add 1 2",
    ),
    "sku_line": ("{n}. {name} {price}（库存 {stock}）", "{n}. {name} {price} ({stock} in stock)"),
    "product_sold_out": (
        "这个商品已经卖完了，看看别的吧（回复「分类」）。",
        "This product is sold out; have a look at others (reply \"categories\").",
    ),
    # Cart
    "no_product": (
        "请先选一个商品（回复「分类」或「搜索 关键词」），再说「加购 数量」。",
        "Pick a product first (reply \"categories\" or \"search <word>\"), "
        "then \"add <quantity>\".",
    ),
    "bad_quantity": (
        "数量要是正整数，例如：加购 2",
        "The quantity must be a whole number of 1 or more, e.g. add 2",
    ),
    "bad_set_quantity": (
        "请这样修改数量：改 序号 数量，例如：改 1 3（数量 0 表示删除）",
        "Change a quantity like this: set <line> <quantity>, e.g. set 1 3 (0 removes it)",
    ),
    "bad_remove": ("请这样删除：删 序号，例如：删 1", "Remove a line like this: remove 1"),
    "bad_sku": ("没有第 {n} 个规格。", "There is no option {n}."),
    "sku_sold_out": ("这个规格已经卖完了，换一个吧。", "That option is sold out; pick another."),
    "short_stock": ("库存不足：只剩 {stock} 件。", "Not enough stock: only {stock} left."),
    "added": ("已加入购物车：{title} × {qty}", "Added to your cart: {title} × {qty}"),
    "cart_summary": (
        "购物车共 {count} 件，合计 {total}。回复「购物车」查看，「结算」下单。",
        "Your cart: {count} item(s), {total} in all. Reply \"cart\" to view, "
        "\"checkout\" to order.",
    ),
    "cart_title": ("购物车：", "Your cart:"),
    "cart_empty": (
        "购物车是空的，先去逛逛吧（回复「分类」）。",
        "Your cart is empty. Have a look around (reply \"categories\").",
    ),
    "cart_line": (
        "{n}. {title} {price} × {qty} = {amount}",
        "{n}. {title} {price} × {qty} = {amount}",
    ),
    "cart_more": ("…还有 {n} 项没有显示", "... and {n} more not shown"),
    "cart_total": ("合计 {total}", "Total {total}"),
    "cart_hint": (
        "回复「结算」下单；「改 序号 数量」改数量；「删 序号」删除；「清空」清空；序号看商品。",
        "Reply \"checkout\" to order; \"set <line> <qty>\" to change; \"remove <line>\"; "
        "\"clear\"; a number to see the product.",
    ),
    "need_cart": (
        "请先回复「购物车」看看序号，再修改。",
        "Reply \"cart\" first to see the line numbers, then change them.",
    ),
    "cart_changed": ("购物车已更新。", "Cart updated."),
    # Checkout
    "checkout_lines": ("本次下单：", "You are ordering:"),
    "order_line": ("- {title} × {qty}  {amount}", "- {title} × {qty}  {amount}"),
    "more_lines": ("…等 {n} 件商品", "... {n} items in all"),
    "choose_address": (
        "合计 {total}。选择收货地址：\n{addresses}\n0. 填写新地址\n回复序号。",
        "Total {total}. Where should it go?\n{addresses}\n0. A new address\nReply with a number.",
    ),
    "ask_name": (
        "合计 {total}。请告诉我收货人姓名（回复「取消」可放弃）。",
        "Total {total}. Who is the recipient? Type their name (reply \"cancel\" to stop).",
    ),
    "ask_name_again": ("请输入收货人姓名：", "Type the recipient's name:"),
    "ask_phone": ("请输入收货人手机号：", "Type the recipient's mobile number:"),
    "ask_address": (
        "请输入详细收货地址（省市区 + 街道门牌），例如：上海市浦东新区世纪大道100号",
        "Type the full delivery address (province, city, district, street and number).",
    ),
    "bad_recipient": (
        "收货人姓名要 1 到 32 个字，请重新输入：",
        "The name must be 1 to 32 characters. Please type it again:",
    ),
    "bad_phone": (
        "手机号不对：请输入 11 位手机号（如 13800138000）或带区号的固话（如 021-12345678）：",
        "That phone number does not look right: type an 11-digit mobile number "
        "(e.g. 13800138000) or a landline with its area code (e.g. 021-12345678):",
    ),
    "bad_detail": (
        "地址需要 5 到 200 个字，要写到街道门牌，请重新输入：",
        "The address must be 5 to 200 characters, down to the street and number. "
        "Please type it again:",
    ),
    "bad_address": ("地址有误：{message}，请重新输入：", "{message}. Please type it again:"),
    "address_not_saved": (
        "（地址没能保存：{message}；这次订单照常使用它。）",
        "(The address could not be saved: {message}; it is still used for this order.)",
    ),
    "confirm": (
        "请确认订单：\n{lines}\n合计 {total}\n收货：{address}\n回复「确认」下单，「取消」放弃。",
        "Please confirm your order:\n{lines}\nTotal {total}\nDeliver to: {address}\n"
        "Reply \"confirm\" to order, \"cancel\" to stop.",
    ),
    "confirm_hint": (
        "回复「确认」下单，「取消」放弃。",
        "Reply \"confirm\" to order, \"cancel\" to stop.",
    ),
    "address_hint": (
        "请回复地址序号，或 0 填写新地址。",
        "Reply with an address number, or 0 for a new address.",
    ),
    "nothing_to_confirm": (
        "没有等待确认的订单。要下单请回复「结算」。",
        "There is no order waiting for confirmation. Reply \"checkout\" to order.",
    ),
    "already_ordered": (
        "订单 {number} 已经提交过了，不会重复下单。付款请打开：\n{pay_url}",
        "Order {number} was already placed; it will not be placed twice. Pay here:\n{pay_url}",
    ),
    "order_created": (
        "下单成功！订单号 {number}，应付 {total}。\n请在 {minutes} 分钟内付款：\n{pay_url}",
        "Order placed! Number {number}, {total} to pay.\nPlease pay within {minutes} minutes:\n"
        "{pay_url}",
    ),
    "order_in_progress": (
        "订单正在提交，请稍候再查看「订单」。",
        "Your order is being placed; check \"orders\" in a moment.",
    ),
    "checkout_unavailable": (
        "购物车里有商品已下架或库存不足：{subject}。请回复「购物车」修改后再结算。",
        "Some items in your cart are off sale or short of stock: {subject}. "
        "Reply \"cart\" to fix it, then check out again.",
    ),
    "out_of_stock": (
        "库存不足：{subject}，订单没有创建。请回复「购物车」修改后重新结算。",
        "Not enough stock for {subject}; no order was placed. Reply \"cart\" to adjust, "
        "then check out again.",
    ),
    "checkout_failed": (
        "下单没有成功：{message}。请回复「购物车」检查后重新结算。",
        "The order was not placed: {message}. Reply \"cart\" to check, then check out again.",
    ),
    # Orders
    "orders_title": ("我的订单（{page_of}）：", "Your orders {page_of}:"),
    "no_orders": (
        "你还没有订单。回复「分类」去逛逛。",
        "You have no orders yet. Reply \"categories\" to look around.",
    ),
    "order_item": (
        "{n}. {number} {status} {total}（{created}）",
        "{n}. {number} {status} {total} ({created})",
    ),
    "orders_hint_list": (
        "回复序号看详情；「取消 序号」取消未付款订单；「退款 序号 原因」申请退款。",
        "Reply with a number for details; \"cancel <n>\" cancels an unpaid order; "
        "\"refund <n> <reason>\" asks for a refund.",
    ),
    "orders_hint_refund": (
        "要退款请回复「退款 序号 原因」，例如：退款 1 不想要了",
        "To ask for a refund reply \"refund <n> <reason>\", e.g. refund 1 changed my mind",
    ),
    "orders_hint_cancel": (
        "要取消未付款订单请回复「取消 序号」，例如：取消 1",
        "To cancel an unpaid order reply \"cancel <n>\", e.g. cancel 1",
    ),
    "no_such_order": (
        "找不到这个订单。请先回复「订单」，再用列表里的序号。",
        "No such order. Reply \"orders\" first, then use a number from that list.",
    ),
    "order_detail": (
        "订单 {number}（{status}）\n下单时间 {created}\n{lines}\n合计 {total}{refunded}\n"
        "收货：{recipient} {phone} {address}",
        "Order {number} ({status})\nPlaced {created}\n{lines}\nTotal {total}{refunded}\n"
        "Deliver to: {recipient} {phone} {address}",
    ),
    "refunded_part": ("，已退 {amount}", ", refunded {amount}"),
    "pay_link": ("付款请打开：\n{pay_url}", "Pay here:\n{pay_url}"),
    "order_cancelled": (
        "订单 {number} 已取消，库存已释放。",
        "Order {number} is cancelled.",
    ),
    "cancel_status": (
        "只有待付款的订单可以取消，这个订单现在是「{status}」。",
        "Only unpaid orders can be cancelled; this one is {status}.",
    ),
    "ask_reason": (
        "请说一下退款原因（200 字以内），回复「取消」放弃：",
        "Why do you want a refund (up to 200 characters)? Reply \"cancel\" to stop:",
    ),
    "reason_too_long": (
        "原因太长了，请控制在 200 字以内：",
        "That reason is too long; keep it under 200 characters:",
    ),
    "refund_requested": (
        "退款申请已提交：订单 {number}，退款 {amount}。退款结果出来后订单状态会更新。",
        "Refund requested: order {number}, {amount}. The order's status changes when it is done.",
    ),
    "refund_unpaid": (
        "这个订单还没有付款，不需要退款；不想要了可以回复「取消 序号」取消。",
        "This order has not been paid, so there is nothing to refund; reply \"cancel <n>\" "
        "to cancel it.",
    ),
    "refund_shipped": (
        "这个订单已经有商品发货了，不能在这里自助退款，请联系客服处理。",
        "Part of this order has already shipped, so it cannot be refunded here; "
        "please contact customer service.",
    ),
    "refund_status": (
        "这个订单现在是「{status}」，不能申请退款。",
        "This order is {status}; it cannot be refunded now.",
    ),
    "refund_failed": ("退款申请没有成功：{message}", "The refund was not requested: {message}"),
    # Distributor centre
    "distributor_menu": (
        "分销中心：\n1. 申请成为分销员\n2. 我的邀请码\n3. 我的推广二维码\n4. 推广海报\n"
        "5. 我的团队\n6. 我的收益\n7. 提现\n回复序号。有好友的邀请码？回复「绑定 邀请码」。",
        "Distributor centre:\n1. Apply to become a distributor\n2. My invite code\n"
        "3. My QR code\n4. My poster\n5. My team\n6. My earnings\n7. Withdraw\n"
        "Reply with a number. Got a friend's invite code? Reply \"bind <code>\".",
    ),
    "dist_tools": (
        "回复「邀请码」「二维码」或「海报」分享给好友，「团队」查看团队。",
        "Reply \"my code\", \"qr\" or \"poster\" to share with friends, \"team\" to see "
        "your team.",
    ),
    "dist_approved": (
        "恭喜，你已成为分销员！好友通过你的分享在本店购物，你就能获得佣金。",
        "Congratulations, you are now a distributor! When friends you share with buy "
        "here, you earn commission.",
    ),
    "dist_already_active": ("你已经是分销员了。", "You are already a distributor."),
    "dist_applied": (
        "申请已提交，正在等待运营审核。审核通过后就能使用分销功能，"
        "可随时回复「申请分销」查看进度。",
        "Your application is in and waits for the operator's review. Once approved you "
        "can use the distributor tools; reply \"apply\" any time to check.",
    ),
    "dist_still_pending": (
        "你的申请正在等待运营审核，请耐心等待。",
        "Your application is still waiting for the operator's review.",
    ),
    "dist_spend_missing": (
        "申请已记录。已完成订单累计消费满 {threshold} 即自动成为分销员，你还差 {missing}。",
        "Your application is recorded. You become a distributor automatically once your "
        "completed orders reach {threshold}; {missing} to go.",
    ),
    "dist_status_not_distributor": (
        "你还不是分销员。回复「申请分销」申请，通过后就有自己的邀请码、二维码和海报。",
        "You are not a distributor yet. Reply \"apply\" to apply; once approved you get "
        "your own invite code, QR code and poster.",
    ),
    "dist_status_pending": (
        "你的分销员申请正在审核中，通过后就能使用这个功能。",
        "Your distributor application is being reviewed; this works once it is approved.",
    ),
    "dist_status_rejected": (
        "你之前的分销员申请没有通过，可以回复「申请分销」重新申请。",
        "Your earlier application was not approved; reply \"apply\" to apply again.",
    ),
    "dist_status_frozen": (
        "你的分销员资格已被冻结，暂时不能推广，也不会获得佣金。如有疑问请联系运营。",
        "Your distributor account is frozen: you cannot share or earn for now. Please "
        "contact the operator if you have questions.",
    ),
    "dist_status_revoked": (
        "你的分销员资格已被取消，不能自行重新申请，请联系运营。",
        "Your distributor status was revoked; you cannot apply again yourself. Please "
        "contact the operator.",
    ),
    "invite_code": (
        "你的邀请码：{code}\n好友在这里回复「绑定 {code}」，或打开你的分享链接，"
        "就会成为你的客户：\n{share_url}",
        "Your invite code: {code}\nFriends who reply \"bind {code}\" here, or open your "
        "share link, become your customers:\n{share_url}",
    ),
    "qr_title": ("我的推广二维码", "My referral QR code"),
    "qr_description": (
        "好友扫码关注即成为你的客户。点开看大图，长按保存或转发。邀请码 {code}",
        "Friends who scan it and follow become your customers. Open it, then press and "
        "hold to save or forward. Invite code {code}",
    ),
    "qr_unavailable": (
        "二维码暂时生成不了，请稍后再试；也可以先把邀请码发给好友（回复「邀请码」）。",
        "Your QR code cannot be made right now; please try again later, or share your "
        "invite code meanwhile (reply \"my code\").",
    ),
    "poster_requested": (
        "你的推广海报正在生成，稍后发给你。",
        "Your poster is being made and will arrive in a moment.",
    ),
    "team": (
        "我的团队\n直属成员 {direct} 人，团队共 {size} 人\n{period}团队销售（已付款，扣除退款）：\n"
        "{rows}\n合计 {total}",
        "My team\n{direct} direct member(s), {size} in the whole team\n"
        "Team sales in {period} (paid, net of refunds):\n{rows}\nTotal {total}",
    ),
    "team_period": ("{year} 年 {month} 月", "{year}-{month:02d}"),
    "team_level": (
        "{level}级：{orders} 单，{amount}",
        "Level {level}: {orders} order(s), {amount}",
    ),
    "earnings": (
        "我的收益：\n待结算 {pending}\n可提现 {available}\n提现中 {withdrawing}\n"
        "已提现 {withdrawn}\n最近佣金：\n{rows}\n订单完成且过了退货期后，待结算佣金转为可提现。",
        "My earnings:\nPending {pending}\nAvailable {available}\nWithdrawing {withdrawing}\n"
        "Withdrawn {withdrawn}\nLatest commission:\n{rows}\nPending commission becomes "
        "available once the order completes and the return window has passed.",
    ),
    "earning_line": ("订单 {number} {level}级 {amount}（{status}）",
                     "Order {number} level {level}: {amount} ({status})"),
    "earnings_none": ("还没有佣金记录。", "No commission yet."),
    "earnings_debt": (
        "⚠️ 退款追回的佣金超过了可提现余额：欠款 {debt}，将从之后的佣金中扣除。",
        "⚠️ Refunds took back more than your available balance: {debt} owed, netted against "
        "your next commission.",
    ),
    "earning_pending": ("待结算", "pending"),
    "earning_available": ("已结算", "settled"),
    "earning_reversed": ("已退款", "refunded"),
    # Withdrawals (issue 6): amounts are typed in yuan, at most two decimals.
    "withdraw_info": (
        "可提现 {available}（提现中 {withdrawing}）。单次最低 {minimum}，"
        "运营审核后转入你的微信零钱。",
        "Available to withdraw: {available} ({withdrawing} on its way). The smallest "
        "withdrawal is {minimum}; it goes to your WeChat balance once the operator approves it.",
    ),
    "withdraw_how": (
        "回复「提现 金额」申请，金额单位为元，例如：提现 50",
        "Reply \"withdraw <amount in yuan>\" to ask, e.g. withdraw 50",
    ),
    "withdraw_nothing": (
        "现在没有可提现的佣金：可提现 {available}，单次最低 {minimum}（提现中 {withdrawing}）。"
        "订单完成且过了退货期后，佣金转为可提现。",
        "Nothing to withdraw yet: {available} available, the smallest withdrawal is {minimum} "
        "({withdrawing} on its way). Commission becomes available once the order completes "
        "and the return window has passed.",
    ),
    "withdraw_requested": (
        "提现申请已提交：{amount}，单号 {number}。运营审核通过后转入微信零钱。"
        "剩余可提现 {available}。",
        "Withdrawal requested: {amount}, number {number}. It goes to your WeChat balance "
        "once the operator approves it. Still available: {available}.",
    ),
    "withdraw_bad_amount": (
        "金额看不懂。请回复「提现 金额」，金额单位为元，最多两位小数，例如：提现 50 或 提现 12.5",
        "I could not read that amount. Reply \"withdraw <amount in yuan>\" with at most two "
        "decimals, e.g. withdraw 50 or withdraw 12.5",
    ),
    "withdraw_debt": (
        "退款追回的佣金超过了可提现余额：欠款 {amount}。"
        "欠款会从之后的佣金中扣除，结清前暂不能提现。",
        "Refunds took back more than your available balance: {amount} owed. It is netted "
        "against your next commission; withdrawals resume once it is paid off.",
    ),
    "withdraw_insufficient": (
        "可提现余额不够：现在可提现 {amount}。",
        "Not enough available: you can withdraw {amount} now.",
    ),
    "withdraw_below_min": (
        "单次提现最低 {amount}。",
        "The smallest withdrawal is {amount}.",
    ),
    "withdraw_failed": ("提现没有办成：{message}", "The withdrawal did not go through: {message}"),
    # Binding under a distributor by invite code
    "a_friend": ("你的好友", "your friend"),
    "bind_hint": (
        "请回复「绑定 邀请码」，例如：绑定 ABCD2345",
        "Reply \"bind <invite code>\", e.g. bind ABCD2345",
    ),
    "code_bound": ("绑定成功，你的推荐人是「{name}」。", "Done: {name} is now your referrer."),
    "code_already": ("你的推荐人已经是「{name}」了。", "{name} is already your referrer."),
    "code_kept": (
        "你已经有推荐人「{name}」了，按本店规则保持不变。",
        "You are already with {name}; the shop's rules keep your first referrer.",
    ),
    "code_bad": (
        "邀请码是 8 位字母和数字，例如：绑定 ABCD2345",
        "An invite code is 8 letters and digits, e.g. bind ABCD2345",
    ),
    "code_unknown": (
        "没有找到这个邀请码，请核对后再试。",
        "No distributor has this invite code; please check it and try again.",
    ),
    "code_self": ("这是你自己的邀请码，不能绑定自己。", "That is your own invite code."),
    "code_inactive": (
        "这个邀请码的分销员目前不能接受绑定。",
        "The distributor with this invite code cannot take new customers right now.",
    ),
    "code_cycle": (
        "不能绑定：对方在你自己的团队里。",
        "That distributor is in your own team, so you cannot be bound under them.",
    ),
    # Failures
    "product_gone": (
        "这个商品已经下架或不存在了。",
        "That product is no longer for sale.",
    ),
    "cart_failed": ("购物车没有改成：{message}", "The cart was not changed: {message}"),
    "failed": ("没有办成：{message}", "That did not work: {message}"),
    "internal": (
        "系统有点忙，请稍后再试。",
        "Something went wrong on our side; please try again in a moment.",
    ),
    # While the chat's memory (Redis) is unreachable: nothing was done, asking again is safe.
    "busy": (
        "系统繁忙，这条消息没能处理，请一分钟后再试。发送「帮助」可查看怎么用。",
        "We are busy right now and could not handle that message; please try again in a "
        "minute. Send \"help\" to see what you can do.",
    ),
    # The "paid" customer-service message
    "paid": (
        "付款成功！订单 {number}\n{lines}\n实付 {total}\n收货：{recipient} {phone} {address}\n"
        "我们会尽快发货，回复「订单」可随时查看。",
        "Payment received! Order {number}\n{lines}\nPaid {total}\n"
        "Deliver to: {recipient} {phone} {address}\nWe will ship soon; reply \"orders\" any time.",
    ),
    # Issue 9 §5 (what a new user tripped over): stock, cart totals, sizes, address steps.
    "short_stock_cart": (
        "库存不足：只剩 {stock} 件，你的购物车里已有 {in_cart} 件，最多还能加 {more} 件。",
        "Not enough stock: only {stock} left and {in_cart} already in your cart, so you can "
        "add at most {more} more.",
    ),
    "short_stock_all_in_cart": (
        "库存不足：只剩 {stock} 件，已经全部在你的购物车里了。",
        "Not enough stock: only {stock} left, and they are all in your cart already.",
    ),
    "cart_line_off_sale": ("（已下架，不计入合计）", " (off sale: not in the total)"),
    "cart_line_short": (
        "（库存不足：只剩 {stock} 件，不计入合计）",
        " (short of stock: only {stock} left; not in the total)",
    ),
    "cart_total_partial": (
        "可下单合计 {total}（{n} 项暂不能下单，未计入；请「改 序号 数量」或「删 序号」后再结算）",
        "Total you can order: {total} ({n} line(s) cannot be ordered now and are not counted; "
        "change or remove them before checking out)",
    ),
    "cart_summary_partial": (
        "购物车共 {count} 件，可下单合计 {total}；{n} 项暂不能下单，回复「购物车」查看。",
        "Your cart: {count} item(s), {total} you can order; {n} line(s) cannot be ordered "
        "now. Reply \"cart\" to see them.",
    ),
    "pick_sku": (
        "这个商品有 {n} 个规格，要哪一个（{qty} 件）？\n{skus}\n回复规格序号，例如：1",
        "This product comes in {n} options; which one ({qty} of it)?\n{skus}\n"
        "Reply with the option's number, e.g. 1",
    ),
    "pick_sku_hint": (
        "请回复规格序号（1 到 {n}），或回复「取消」。",
        "Reply with an option's number (1 to {n}), or \"cancel\".",
    ),
    "bad_recipient_is_phone": (
        "这看起来是手机号。请先输入收货人姓名：",
        "That looks like a phone number. Please type the recipient's name first:",
    ),
    "bad_detail_is_phone": (
        "这是手机号，不是地址（手机号上一步已经填好了）。请输入详细收货地址，不要带手机号，"
        "例如：上海市浦东新区世纪大道100号",
        "That is a phone number, not an address (the phone number is already filled in). "
        "Please type the delivery address without a phone number.",
    ),
}

STATUS: dict[str, tuple[str, str]] = {
    "pending_payment": ("待付款", "awaiting payment"),
    "paid": ("已付款", "paid"),
    "shipped": ("已发货", "shipped"),
    "completed": ("已完成", "completed"),
    "cancelled": ("已取消", "cancelled"),
    "refunding": ("退款中", "refunding"),
    "refunded": ("已退款", "refunded"),
    "partially_refunded": ("部分退款", "partially refunded"),
}


def say(lang: str, key: str, **fields: object) -> str:
    """The text ``key`` in ``lang`` ("zh" or "en") with its fields filled in."""
    zh, en = TEXTS[key]
    template = en if lang == "en" else zh
    return template.format(**fields) if fields else template


def status_label(lang: str, status: str) -> str:
    """An order status as the user reads it."""
    zh, en = STATUS.get(status, (status, status))
    return en if lang == "en" else zh


def yuan(fen: int) -> str:
    """Integer fen as "¥12.34" (no float on the way)."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}¥{whole}.{cents:02d}"


def mask_phone(phone: str) -> str:
    """A phone number with its middle hidden, the one mask used wherever a number is shown
    to someone who does not need it whole (the chat, the H5 pages, the buyer's API).

    Mobiles keep their first 3 and last 4 digits (13800138000 -> 138****8000);
    landlines their area code and last 4 (021-12345678 -> 021-****5678); anything
    else keeps only its last 4 digits.
    """
    phone = (phone or "").strip()
    if len(phone) == 11 and phone.isdigit():
        return phone[:3] + "****" + phone[7:]
    area, dash, local = phone.partition("-")
    if dash and area.isdigit() and local.isdigit() and len(local) > 4:
        return f"{area}-{'*' * (len(local) - 4)}{local[-4:]}"
    positions = [i for i, ch in enumerate(phone) if ch.isdigit()]
    keep = set(positions[-4:])
    return "".join("*" if ch.isdigit() and i not in keep else ch for i, ch in enumerate(phone))


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, marked with an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def item_title(title: str, sku_name: str) -> str:
    """A line's name: the product title, plus the SKU name when it says something."""
    # Single-variant products usually carry a placeholder SKU name; only show real ones.
    if sku_name and sku_name.casefold() not in ("standard", "default", "标准", "默认"):
        return f"{clip(title, 20)}（{clip(sku_name, 10)}）"
    return clip(title, 20)


def lines_block(lang: str, lines: Iterable[tuple[str, int, int]], limit: int = 10) -> str:
    """(title, quantity, amount fen) rows as an order summary, at most ``limit`` shown."""
    rows = list(lines)
    shown = [
        say(lang, "order_line", title=clip(title, 32), qty=qty, amount=yuan(amount))
        for title, qty, amount in rows[:limit]
    ]
    if len(rows) > limit:
        shown.append(say(lang, "more_lines", n=len(rows)))
    return "\n".join(shown)


def paid_message(
    lang: str,
    *,
    number: str,
    total_fen: int,
    lines: Iterable[tuple[str, int, int]],
    recipient: str,
    phone: str,
    address: str,
) -> str:
    """The "payment received" message with the order summary."""
    return say(
        lang,
        "paid",
        number=number,
        lines=lines_block(lang, lines),
        total=yuan(total_fen),
        recipient=recipient,
        phone=mask_phone(phone),
        address=address,
    )


def commission_message(lang: str, *, count: int, total_fen: int) -> str:
    """The batched "you earned commission" message to a distributor."""
    return say(lang, "commission_earned", count=count, total=yuan(total_fen))

