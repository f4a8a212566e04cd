"""The demo shop: suppliers, shelves, products and people. Prices in fen."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SupplierSeed:
    """A supplier and the staff member who runs its console account."""

    key: str
    name: str
    contact: str
    staff_nickname: str


@dataclass(frozen=True)
class CategorySeed:
    """A shelf; ``colors`` are the gradient of its products' pictures."""

    name: str
    sort_order: int
    colors: tuple[str, str]


@dataclass(frozen=True)
class SkuSeed:
    """A variant: code (unique, the seed's natural key), name, prices in fen, stock."""

    code: str
    name: str
    price_fen: int
    supply_price_fen: int
    stock: int


@dataclass(frozen=True)
class ProductSeed:
    """A product; ``key`` names its picture, ``glyph`` is the character drawn on it."""

    key: str
    supplier: str
    category: str
    title: str
    subtitle: str
    description: str
    glyph: str
    skus: tuple[SkuSeed, ...]


@dataclass(frozen=True)
class PersonSeed:
    """A WeChat follower of the demo account, with a delivery address."""

    openid: str
    nickname: str
    distributor: bool
    recipient: str
    phone: str
    region: str
    detail: str


OPERATOR_NICKNAME = "平台运营 Demo Operator"

SUPPLIERS: tuple[SupplierSeed, ...] = (
    SupplierSeed("yunling", "云岭生态农业有限公司", "赵经理 0871-65551234", "云岭农业 店长"),
    SupplierSeed("longwu", "杭州龙坞茶业有限公司", "钱经理 0571-87651234", "龙坞茶业 店长"),
    SupplierSeed("baiwei", "广州百味食品有限公司", "孙经理 020-83331234", "百味食品 店长"),
)

CATEGORIES: tuple[CategorySeed, ...] = (
    CategorySeed("时令水果", 10, ("#ff9a44", "#fc6076")),
    CategorySeed("茶与咖啡", 20, ("#43a047", "#1b5e20")),
    CategorySeed("地方美食", 30, ("#f6d365", "#e65100")),
    CategorySeed("家居日用", 40, ("#4facfe", "#3949ab")),
)

FRUIT, DRINKS, FOOD, HOME = (c.name for c in CATEGORIES)

PRODUCTS: tuple[ProductSeed, ...] = (
    ProductSeed(
        "chu-orange", "yunling", FRUIT, "云南褚橙", "Yunnan Chu Oranges",
        "哀牢山果园直发，果径 65-75mm，酸甜比 24:1。", "橙",
        (
            SkuSeed("DEMO-CHU-5J", "5斤装", 6980, 4200, 200),
            SkuSeed("DEMO-CHU-10J", "10斤装", 12800, 7900, 120),
        ),
    ),
    ProductSeed(
        "keitt-mango", "yunling", FRUIT, "攀枝花凯特芒果", "Panzhihua Keitt Mangoes",
        "树上自然熟，单果 400g 以上，顺丰冷链。", "芒",
        (SkuSeed("DEMO-MANGO-5J", "5斤装", 5990, 3600, 150),),
    ),
    ProductSeed(
        "aksu-apple", "yunling", FRUIT, "阿克苏冰糖心苹果", "Aksu Rock-Sugar Apples",
        "新疆阿克苏产区，糖心饱满，80mm 大果。", "苹",
        (
            SkuSeed("DEMO-APPLE-5J", "5斤装", 3980, 2300, 300),
            SkuSeed("DEMO-APPLE-10J", "10斤装", 6980, 4100, 180),
        ),
    ),
    ProductSeed(
        "dandong-strawberry", "yunling", FRUIT, "丹东红颜草莓", "Dandong Red Face Strawberries",
        "温室种植，当天采摘，3斤礼盒装。", "莓",
        (SkuSeed("DEMO-BERRY-3J", "3斤礼盒", 8990, 5800, 60),),
    ),
    ProductSeed(
        "yunnan-coffee", "yunling", DRINKS, "云南小粒咖啡豆", "Yunnan Arabica Coffee Beans",
        "保山高海拔产区，中度烘焙，坚果与焦糖风味。", "啡",
        (
            SkuSeed("DEMO-COFFEE-500G", "咖啡豆 500g", 9800, 5200, 100),
            SkuSeed("DEMO-COFFEE-DRIP10", "挂耳 10片", 4900, 2400, 250),
        ),
    ),
    ProductSeed(
        "longjing", "longwu", DRINKS, "西湖龙井 明前特级", "West Lake Longjing, Pre-Qingming",
        "龙坞核心产区手工炒制，豆香浓郁，100g 罐装。", "龙",
        (SkuSeed("DEMO-LONGJING-100G", "100g 罐装", 29800, 18000, 80),),
    ),
    ProductSeed(
        "anji-white", "longwu", DRINKS, "安吉白茶", "Anji White Tea",
        "氨基酸含量高，鲜爽回甘，50g 礼盒。", "白",
        (SkuSeed("DEMO-ANJI-50G", "50g 礼盒", 12800, 7600, 90),),
    ),
    ProductSeed(
        "fuding-cake", "longwu", DRINKS, "福鼎白茶 寿眉茶饼", "Fuding Shoumei White Tea Cake",
        "2019 年陈寿眉，枣香显，357g 一饼。", "饼",
        (SkuSeed("DEMO-FUDING-357G", "357g 一饼", 26800, 15000, 40),),
    ),
    ProductSeed(
        "jasmine-tea", "longwu", DRINKS, "福州茉莉花茶", "Fuzhou Jasmine Tea",
        "七窨一提，花香鲜灵，250g 袋装。", "茉",
        (SkuSeed("DEMO-JASMINE-250G", "250g 袋装", 6800, 3900, 160),),
    ),
    ProductSeed(
        "beef-balls", "baiwei", FOOD, "潮汕手打牛肉丸", "Chaoshan Hand-Beaten Beef Balls",
        "鲜牛后腿肉手工捶打，弹牙爆汁，冷冻发货。", "丸",
        (
            SkuSeed("DEMO-BEEFBALL-500G", "500g", 5980, 3300, 220),
            SkuSeed("DEMO-BEEFBALL-1KG", "1kg 家庭装", 10800, 6200, 120),
        ),
    ),
    ProductSeed(
        "cantonese-sausage", "baiwei", FOOD, "广式腊肠", "Cantonese Cured Sausage",
        "七分瘦三分肥，玫瑰露酒调味，500g。", "腊",
        (SkuSeed("DEMO-SAUSAGE-500G", "500g", 6880, 4000, 140),),
    ),
    ProductSeed(
        "beef-jerky", "baiwei", FOOD, "四川麻辣牛肉干", "Sichuan Spicy Beef Jerky",
        "风干牛肉，麻辣鲜香，200g 独立小包。", "辣",
        (SkuSeed("DEMO-JERKY-200G", "200g", 3980, 2100, 400),),
    ),
    ProductSeed(
        "osmanthus-cake", "baiwei", FOOD, "桂花糕", "Osmanthus Rice Cakes",
        "新鲜桂花蜜渍，软糯清甜，12 枚礼盒。", "桂",
        (SkuSeed("DEMO-OSMANTHUS-12", "12枚礼盒", 3680, 1900, 180),),
    ),
    ProductSeed(
        "bamboo-towels", "baiwei", HOME, "竹纤维洗碗巾", "Bamboo-Fibre Dish Cloths",
        "不沾油、易清洗，10 条装。", "竹",
        (SkuSeed("DEMO-DISHCLOTH-10", "10条装", 1990, 900, 500),),
    ),
    ProductSeed(
        "soapberry-liquid", "baiwei", HOME, "无患子洗衣液", "Soapberry Laundry Liquid",
        "植物配方，温和低泡，2kg 瓶装。", "洗",
        (SkuSeed("DEMO-SOAPBERRY-2KG", "2kg", 4590, 2600, 260),),
    ),
)

PEOPLE: tuple[PersonSeed, ...] = (
    PersonSeed("o-demo-xiaoming", "小明", False, "王小明", "13800138001",
               "上海市 浦东新区", "世纪大道 100 号 8 楼"),
    PersonSeed("o-demo-azhen", "阿珍", False, "陈珍", "13900139002",
               "广东省 深圳市 南山区", "科技园科发路 2 号"),
    PersonSeed("o-demo-lilei", "李雷", False, "李雷", "13700137003",
               "北京市 海淀区", "中关村大街 27 号"),
    PersonSeed("o-demo-wangfang", "王芳", False, "王芳", "13600136004",
               "浙江省 杭州市 西湖区", "文三路 90 号 3 单元 501"),
    PersonSeed("o-demo-hanmeimei", "韩梅梅的优选小店", True, "韩梅梅", "13500135005",
               "江苏省 南京市 鼓楼区", "中山北路 30 号"),
    PersonSeed("o-demo-zhangjie", "张姐团购", True, "张丽", "13300133006",
               "四川省 成都市 武侯区", "人民南路四段 11 号"),
)

# Demo distributors' invite codes (fixed, so the README and the chat page can name them).
INVITE_CODES: dict[str, str] = {
    "o-demo-hanmeimei": "HANMM888",
    "o-demo-zhangjie": "ZHANGJ66",
}


@dataclass(frozen=True)
class TierSeed:
    """A distributor tier and its sales thresholds (fen / orders)."""

    code: str
    name: str
    rank: int
    min_own_sales_fen: int
    min_team_sales_fen: int


TIERS: tuple[TierSeed, ...] = (
    TierSeed("silver", "银牌分销员 Silver", 10, 50_000, 100_000),
    TierSeed("gold", "金牌分销员 Gold", 20, 200_000, 500_000),
)

# (follower, upline) pairs of the demo referral tree: 张姐团购 joined through 韩梅梅's
# code, 小明 scanned 韩梅梅's QR code, 阿珍 typed 张姐's invite code.
BINDINGS: tuple[tuple[str, str, str], ...] = (
    ("o-demo-zhangjie", "o-demo-hanmeimei", "qr"),
    ("o-demo-xiaoming", "o-demo-hanmeimei", "qr"),
    ("o-demo-azhen", "o-demo-zhangjie", "invite_code"),
)
