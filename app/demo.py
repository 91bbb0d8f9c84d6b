"""Demo data: ``flask demo seed [--residents 300] [--seed 42] [--reset [--yes]]``, ``flask demo passwords``.

A realistic, deterministic (given ``--seed``) Guangzhou back office to explore: the Bureau's
published cooperating banks and their outlets (Art. 6, 9), the agencies (Art. 5, 33), staff of
every role, the government data-sharing platform (Art. 9 ¶2) and a few hundred residents whose
cards have been driven through every state of the lifecycle.

Every card reaches its state through the real services (``app.services.people`` and
``app.services.lifecycle``, with the proper actor and channel for each step), never by writing
``status``, so events, accounts, fees and deadlines are what the product itself produced. Histories
lie in the past: the seeder moves the service clock (``app.services.clock.now``) back while it
drives a resident's card, and restores it afterwards. Dates are relative to the day of seeding, so
that the overdue list (Art. 10, 25) is right on that day.

Staff passwords are random (``secrets``), stored only as argon2id hashes, and printed once, at the
end of the command, to the terminal; they are never logged. ``flask demo passwords [USERNAME…]``
sets new ones and prints them (demo databases only). One resident has a fixed identity
(``GUIDE``), so that the README can name it; every other one is drawn at random. Card PINs are random and never shown.

The database is marked as demo data by two rows of ``counters`` (``demo:seed``, ``demo:residents``):
a second run is a no-op; a database holding data that is not demo data is refused.
"""
from __future__ import annotations

import heapq
import logging
import secrets
import struct
import time
import unicodedata
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from functools import cache
from random import Random

import click
from flask.cli import AppGroup
from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from app.extensions import db
from app.models import Agency, Bank, Card, Counter, FieldStatus, Outlet, Person, SharedRecord, StaffUser
from app.models.enums import (
    AgencyKind,
    CancellationReason,
    CardStatus,
    Channel,
    DeliveryMethod,
    EligibilityBasis,
    Field,
    Referral,
    ReplacementReason,
    Role,
    ServiceMode,
)
from app.privacy.runtime import blind_index
from app.services import clock, deadlines, lifecycle, people
from app.services.actor import SYSTEM, Actor
from app.services.documents import DocumentType, mod11_2_check_char
from app.services.errors import DomainError
from app.services.hashing import hash_password

log = logging.getLogger(__name__)

demo_cli = AppGroup("demo", help="Demo data for a fresh installation (never on a production database).")

MARK_SEED = "demo:seed"
MARK_RESIDENTS = "demo:residents"
BATCH = 25  # residents per commit

# ----------------------------------------------------------------------------------------------
# Reference data
# ----------------------------------------------------------------------------------------------

# GB/T 2260 codes of Guangzhou's districts (first six digits of a citizen ID number).
DISTRICT_CODES = {
    "荔湾区": "440103", "越秀区": "440104", "海珠区": "440105", "天河区": "440106", "白云区": "440111",
    "黄埔区": "440112", "番禺区": "440113", "花都区": "440114", "南沙区": "440115", "从化区": "440117",
    "增城区": "440118",
}
# Rough population weights of the districts.
DISTRICT_WEIGHTS = {
    "白云区": 18, "番禺区": 14, "天河区": 12, "海珠区": 10, "黄埔区": 7, "花都区": 9, "增城区": 9,
    "越秀区": 6, "荔湾区": 6, "南沙区": 5, "从化区": 4,
}
DISTRICT_ABBR = {
    "荔湾区": "LW", "越秀区": "YX", "海珠区": "HZ", "天河区": "TH", "白云区": "BY", "黄埔区": "HP",
    "番禺区": "PY", "花都区": "HD", "南沙区": "NS", "从化区": "CH", "增城区": "ZC",
}
STREETS = {
    "天河区": ["天河路", "体育西路", "天河北路", "黄埔大道西", "华夏路", "中山大道西", "林和西路", "五山路"],
    "越秀区": ["中山五路", "北京路", "东风中路", "环市东路", "解放北路", "农林下路", "较场西路", "德政北路"],
    "海珠区": ["江南大道中", "新港中路", "工业大道北", "昌岗中路", "宝岗大道", "南洲路"],
    "荔湾区": ["中山八路", "康王中路", "芳村大道中", "龙津西路", "花地大道北", "西湾路"],
    "白云区": ["机场路", "白云大道北", "广园中路", "三元里大道", "同和路", "嘉禾望岗路", "京溪路"],
    "黄埔区": ["黄埔东路", "开创大道", "科学大道", "大沙地东路", "香雪大道", "丰乐北路"],
    "番禺区": ["清河东路", "兴业大道", "番禺大道北", "市桥桥东路", "亚运大道", "大石街迎宾路"],
    "花都区": ["公益路", "迎宾大道", "凤凰北路", "新华路", "云山大道", "茶园路"],
    "南沙区": ["进港大道", "环市大道中", "金隆路", "凤凰大道", "黄阁大道"],
    "从化区": ["河滨北路", "新城东路", "街口街中田路", "青云路", "江埔街从城大道"],
    "增城区": ["府佑路", "增城大道", "新塘港口大道", "荔城街园圃路", "挂绿路"],
}
# Neighbourhoods that give bank outlets (支行) their names.
OUTLET_PLACES = {
    "天河区": ["天河城", "珠江新城", "体育中心", "石牌", "车陂", "五山", "岗顶"],
    "越秀区": ["北京路", "东山口", "农林下路", "环市东", "海珠广场", "西湖路"],
    "海珠区": ["江南西", "客村", "赤岗", "昌岗", "琶洲", "宝岗"],
    "荔湾区": ["上下九", "芳村", "西华路", "花地湾", "中山八路"],
    "白云区": ["三元里", "同和", "京溪", "嘉禾", "白云新城", "石井"],
    "黄埔区": ["大沙地", "科学城", "开发区", "香雪", "鱼珠"],
    "番禺区": ["市桥", "大石", "祈福", "南村", "洛溪"],
    "花都区": ["新华", "狮岭", "花都广场", "新雅"],
    "南沙区": ["蕉门", "金洲", "黄阁", "南沙港"],
    "从化区": ["街口", "江埔", "太平"],
    "增城区": ["荔城", "新塘", "增江", "永和"],
}
HISTORY_DAYS = 1200  # the oldest story starts less than this many days ago
ESTATES = ["花园", "小区", "新村", "苑", "雅居", "广场", "公寓", "大院"]
ESTATE_WORDS = ["丽景", "翠湖", "金沙", "锦绣", "天骏", "华景", "碧桂", "珠江", "御景", "东方", "荔港",
                "云山", "南国", "星河", "富力", "保利", "越秀", "汇景", "嘉禾", "海印"]

# Other provinces' county codes (GB/T 2260) for residents without Guangzhou household registration.
MIGRANT_REGIONS = ["430102", "430524", "431021", "450102", "450881", "360102", "362502", "510104",
                   "511623", "410102", "411522", "420102", "440513", "440803", "441302", "445202",
                   "441402", "440882", "350102", "522101"]

SURNAMES = ("陈" * 14 + "李" * 8 + "黄" * 8 + "张" * 6 + "梁" * 6 + "林" * 5 + "刘" * 5 + "吴" * 4
            + "何" * 4 + "罗" * 4 + "郑" * 3 + "杨" * 3 + "谢" * 3 + "朱" * 2 + "冯" * 2 + "王" * 3
            + "周" * 2 + "邓" * 3 + "叶" * 2 + "曾" * 2 + "许" * 2 + "苏" * 2 + "卢" * 2 + "蔡" * 2
            + "钟" * 2 + "潘" * 2 + "余" * 2 + "麦" * 2 + "区" + "关" * 2 + "冼" + "邝" + "谭" * 2
            + "郭" * 2 + "马" + "赖" + "彭" + "温" + "黎" * 2 + "莫" + "胡" + "徐" + "孙" + "高" + "方")
GIVEN_MALE = "伟强志俊杰浩明文华建国嘉锦荣永家宇子轩晨辉健东海波涛峰龙鹏振兴德立平军耀基铭豪泽霖卓恒"
GIVEN_FEMALE = "丽敏静婷芳燕玲秀慧嘉欣怡琳晓雪颖诗雅咏淑桂凤琼妹洁翠霞薇梓蕾嫣晴彤韵婉瑶"
ETHNICITIES = ["汉族"] * 94 + ["壮族", "壮族", "回族", "满族", "瑶族", "土家族", "苗族", "畲族"]
OCCUPATIONS = ["工程师", "教师", "医生", "护士", "公务员", "销售", "会计", "司机", "厨师", "快递员",
               "外卖骑手", "个体工商户", "软件开发", "设计师", "保安", "保洁员", "制造业工人", "律师",
               "银行职员", "文员", "服务员", "电工", "建筑工人", "物流仓管", "美容师", "自由职业",
               "餐饮店员", "导购", "质检员", "行政专员"]
MOBILE_PREFIXES = ["130", "131", "132", "133", "134", "135", "136", "137", "138", "139", "150", "151",
                   "152", "153", "155", "156", "157", "158", "159", "166", "176", "177", "178", "180",
                   "181", "182", "183", "185", "186", "187", "188", "189", "191", "198", "199"]

# The Bureau's published list (Art. 6 ¶2) and one bank that is not on it (fictional).
BANKS = [  # code, name, short name for outlets, published, market weight
    ("ICBC-GZ", "中国工商银行广州分行", "工商银行", True, 20),
    ("ABC-GZ", "中国农业银行广州分行", "农业银行", True, 14),
    ("BOC-GZ", "中国银行广州分行", "中国银行", True, 12),
    ("CCB-GZ", "中国建设银行广州分行", "建设银行", True, 18),
    ("GZB", "广州银行", "广州银行", True, 17),
    ("GRCB", "广州农村商业银行", "广州农商银行", True, 19),
    ("LNCB-GZ", "岭南商业银行广州分行（示例，未列入合作银行名单）", "岭南商业银行", False, 0),
]
# Banks whose second outlet also gets a teller (every bank has one at its instant outlet).
TWO_TELLERS = {"ICBC-GZ", "CCB-GZ", "GRCB"}

AGENCIES = [  # code, name, kind, field
    ("GZ-HRSS", "广州市人力资源和社会保障局", AgencyKind.BUREAU, None),
    ("GZ-SSCC", "广州市社会保障卡服务中心", AgencyKind.ISSUING, None),
    ("GZ-12345", "广州12345政府服务便民热线", AgencyKind.HOTLINE, None),
    ("GZ-YB", "广州市医疗保障局", AgencyKind.APPLICATION, Field.MEDICAL),
    ("GZ-JT", "广州市交通运输局", AgencyKind.APPLICATION, Field.TRANSPORT),
    ("GZ-MZ", "广州市民政局", AgencyKind.APPLICATION, Field.CIVIL_AFFAIRS),
    ("GZ-WJ", "广州市卫生健康委员会", AgencyKind.APPLICATION, Field.HEALTH),
    ("GZ-GJJ", "广州住房公积金管理中心", AgencyKind.APPLICATION, Field.PROVIDENT_FUND),
]
APP_AGENCY_USERS = {"GZ-YB": "yb", "GZ-JT": "jt", "GZ-MZ": "mz", "GZ-WJ": "wj", "GZ-GJJ": "gjj"}

# Residents with documents other than the citizen ID card (Art. 4, 9, 11).
SPECIALS = [  # kind, doc type, region/nationality, name, ethnicity
    ("hk", DocumentType.HK_MACAO_RESIDENT_PERMIT, "810000", "陈家豪", None),
    ("mo", DocumentType.HK_MACAO_RESIDENT_PERMIT, "820000", "梁嘉欣", None),
    ("tw", DocumentType.TAIWAN_RESIDENT_PERMIT, "830000", "林志明", None),
    ("pr", DocumentType.FOREIGN_PERMANENT_RESIDENCE, "USA", "约翰·史密斯", None),
    ("pr", DocumentType.FOREIGN_PERMANENT_RESIDENCE, "KOR", "金敏俊", None),
    ("passport", DocumentType.PASSPORT, "VNM", "阮氏兰", None),
]
_ISO_NUMERIC = {"USA": "840", "KOR": "410", "JPN": "392", "DEU": "276"}

# Scenarios: what happens to one resident's cards. Each appears at least once; the rest of the
# residents are drawn with these weights (most end up with an active card).
SCENARIO_WEIGHTS = {
    "active": 56, "active_instant": 1, "active_door_to_door": 1.5, "active_employer": 2, "active_express": 3,
    "issued": 2, "applied": 2, "accepted": 1.5, "in_production": 2, "overdue": 2.5, "due_soon": 1,
    "produced": 2.5, "in_transit": 1.5, "loss_registered": 2.5, "loss_deregistered": 0.7,
    "reissued_active": 3, "reissued_pending": 1, "reissue_instant": 0.5, "replacement_pending": 1.5,
    "replaced_damaged": 1.5, "bank_change": 1.2, "name_change": 0.3, "cancelled_death": 2,
    "cancelled_request": 0.8, "cancelled_ineligible": 0.5, "renewed": 0.3, "rejected": 1,
    "field_lock": 2, "field_unlock": 0.4, "pin_reset": 0.3, "pin_change": 0.3,
}


@dataclass(frozen=True)
class GuideResident:
    """The one resident the README names, with a fixed identity (every other one is random)."""

    name: str
    doc_type: DocumentType
    doc_number: str
    phone: str
    birth: date
    bank_code: str
    address: str


GUIDE = GuideResident(name="黄志明", doc_type=DocumentType.RESIDENT_ID, doc_number="440106199005170313",
                      phone="13800138000", birth=date(1990, 5, 17), bank_code="GZB",
                      address="广州市天河区天河路385号锦绣花园8栋1203房")
MIN_RESIDENTS = len(SCENARIO_WEIGHTS) + len(SPECIALS) + 1  # + GUIDE


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------


def _png(width: int, height: int, background: tuple[int, int, int]) -> bytes:
    """A small ID-style photo placeholder (33×48 like the 33 mm × 48 mm photo): a grey head and
    shoulders on the ID-photo background colour."""
    rows = []
    cx, cy, r = width / 2, height * 0.36, width * 0.22
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            head = (x - cx) ** 2 + (y - cy) ** 2 <= r * r
            body = y > height * 0.62 and abs(x - cx) <= (y - height * 0.55) * 0.9 + r
            row += bytes((96, 96, 104)) if head or body else bytes(background)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


@cache
def _photos() -> tuple[bytes, ...]:
    return tuple(_png(33, 48, bg) for bg in ((255, 255, 255), (67, 142, 219), (214, 40, 40)))


def _width(s: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in s)


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(_width(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    fmt = lambda r: "  ".join(str(v) + " " * (w - _width(str(v))) for v, w in zip(r, widths)).rstrip()  # noqa: E731
    return "\n".join([fmt(headers), fmt(["-" * w for w in widths]), *map(fmt, rows)])


class _VirtualClock:
    """Replaces ``clock.now`` while the seeder writes history; always restored."""

    def __init__(self, start: datetime):
        self.current = start

    @contextmanager
    def installed(self) -> Iterator[_VirtualClock]:
        original = clock.now
        clock.now = lambda: self.current
        try:
            yield self
        finally:
            clock.now = original


@dataclass
class Profile:
    scenario: str
    kind: str  # gz (Guangzhou household registration), migrant, hk, mo, tw, pr, passport
    doc_type: str
    doc_number: str
    nationality: str | None
    name: str
    birth: date
    ethnicity: str | None
    phone: str
    address: str
    occupation: str
    photo: bytes
    bank_id: int
    shared: dict | None  # the platform's record, None if it has none

    age: int = 0


@dataclass
class SeedResult:
    residents: int
    statuses: dict[str, int]
    staff: list[tuple[str, str, str, str]]  # username, role, organisation, password
    overdue: int
    due_soon: int
    locks: int
    seconds: float = 0.0
    documents: dict[str, int] = field(default_factory=dict)


# ----------------------------------------------------------------------------------------------
# The seeder
# ----------------------------------------------------------------------------------------------


class Seeder:
    def __init__(self, session: Session, *, residents: int, seed: int, echo: Callable[[str], None] = click.echo):
        if residents < MIN_RESIDENTS:
            raise ValueError(f"at least {MIN_RESIDENTS} residents are needed to show every card state")
        self.s = session
        self.n = residents
        self.seed = seed
        self.rng = Random(seed)
        self.echo = echo
        self.end = clock.now()  # real "now": all history lies before it
        self.today = self.end.astimezone(clock.CHINA).date()
        self.since = self.end - timedelta(days=HISTORY_DAYS)
        self.vclock = _VirtualClock(self.end)
        self.cal = deadlines.calendar(session)
        self.banks: dict[str, int] = {}
        self.bank_weights: dict[int, int] = {}
        self.tellers: dict[int, list[Actor]] = {}  # bank id -> teller actors
        self.instant_teller: dict[int, Actor] = {}
        self.clerks: list[Actor] = []
        self.hotline: Actor | None = None
        self.credentials: list[tuple[str, str, str, str]] = []
        self.used_ids: set[str] = {GUIDE.doc_number}
        self.unbind_confirmed = 0
        self.medical_desk: Actor | None = None

    # -------------------------------------------------------------------- organisations and staff

    def organisations(self) -> None:
        rng = self.rng
        districts = list(DISTRICT_CODES)
        agencies = {}
        for code, name, kind, fld in AGENCIES:
            agencies[code] = Agency(code=code, name=name, kind=kind, field=fld, created_at=self.since)
        self.s.add_all(agencies.values())
        for code, name, short, published, weight in BANKS:
            bank = Bank(code=code, name=name, published=published)
            self.s.add(bank)
            self.s.flush()
            self.banks[code] = bank.id
            if published:
                self.bank_weights[bank.id] = weight
            count = rng.randint(2, 4) if published else 1
            prefix = short if short.startswith("广州") else f"{short}广州"
            for i, district in enumerate(rng.sample(districts, count)):
                self.s.add(Outlet(
                    bank_id=bank.id, code=f"{code}-{DISTRICT_ABBR[district]}{i + 1:02d}",
                    name=f"{prefix}{rng.choice(OUTLET_PLACES[district])}支行", district=district,
                    address=f"广州市{district}{rng.choice(STREETS[district])}{rng.randint(1, 400)}号",
                    instant=published and i == 0,  # each published bank: one instant card-making outlet
                ))
        self.s.flush()
        self.agency_ids = {code: a.id for code, a in agencies.items()}

    def staff(self) -> None:
        rng = self.rng
        specs: list[tuple[str, Role, dict]] = [
            ("hrss.admin", Role.BUREAU, {"agency_id": self.agency_ids["GZ-HRSS"]}),
            ("hrss.audit", Role.AUDITOR, {"agency_id": self.agency_ids["GZ-HRSS"]}),
            ("sscc.clerk1", Role.AGENCY_CLERK, {"agency_id": self.agency_ids["GZ-SSCC"]}),
            ("sscc.clerk2", Role.AGENCY_CLERK, {"agency_id": self.agency_ids["GZ-SSCC"]}),
            ("h12345.op1", Role.HOTLINE_OPERATOR, {"agency_id": self.agency_ids["GZ-12345"]}),
        ]
        for code, user in APP_AGENCY_USERS.items():
            specs.append((f"{user}.op1", Role.APP_AGENCY, {"agency_id": self.agency_ids[code]}))
        for code, name, _short, published, _w in BANKS:
            if not published:
                continue
            bank_id = self.banks[code]
            outlets = self.s.scalars(select(Outlet).where(Outlet.bank_id == bank_id)
                                     .order_by(Outlet.instant.desc(), Outlet.code)).all()
            for outlet in outlets[: 2 if code in TWO_TELLERS else 1]:
                username = f"{code.split('-')[0].lower()}.{outlet.code.split('-')[-1].lower()}"
                specs.append((username, Role.BANK_TELLER, {"bank_id": bank_id, "outlet_id": outlet.id}))
        for username, role, scope in specs:
            password = secrets.token_urlsafe(9)
            user = StaffUser(username=username, display_name=self.name(rng.random() < 0.5), role=role,
                             password_hash=hash_password(password), created_at=self.since, **scope)
            self.s.add(user)
            self.s.flush()
            self.credentials.append(_login_row(self.s, user, password))
            actor = Actor(role=role, channel={Role.BANK_TELLER: Channel.OUTLET,
                                              Role.HOTLINE_OPERATOR: Channel.GOV_HOTLINE}.get(role, Channel.AGENCY),
                          user_id=user.id, bank_id=user.bank_id, outlet_id=user.outlet_id, agency_id=user.agency_id)
            if role is Role.APP_AGENCY and username == "yb.op1":
                self.medical_desk = actor  # the medical security agency: hospital settlement (Art. 13 ¶2)
            if role is Role.BANK_TELLER:
                self.tellers.setdefault(user.bank_id, []).append(actor)
                if self.s.get(Outlet, user.outlet_id).instant:
                    self.instant_teller[user.bank_id] = actor
            elif role is Role.AGENCY_CLERK:
                self.clerks.append(actor)
            elif role is Role.HOTLINE_OPERATOR:
                self.hotline = actor

    # -------------------------------------------------------------------- guides, complaints, old certificates

    def guides_and_cases(self) -> None:
        """Service guides of the issuing agency and the application agencies (Art. 18), two complaints
        (Art. 29: one at the hotline, one anonymous report on the web) and an old certificate linked to the
        first resident (Art. 34), all through the services, so the pages have something true to show."""
        from app.models.complaint import ComplainantType, ComplaintKind, IntakeChannel, PartyKind
        from app.models.legacy import LegacyKind
        from app.services import complaints, guides, legacy

        s = self.s
        staff = {u.username: u for u in s.scalars(select(StaffUser))}

        def actor(username: str) -> Actor:
            u = staff[username]
            return Actor(role=u.role, channel=Channel.AGENCY, user_id=u.id, agency_id=u.agency_id)

        guides.publish(s, actor("sscc.clerk1"), self.agency_ids["GZ-SSCC"], {
            "title": "广州市社会保障卡服务指南",
            "service_items": "申领、启用、挂失、解挂、补卡、换卡、注销、应用锁定与解锁、应用状态查询、密码修改与重置、信息变更",
            "scope": "人力资源和社会保障、医疗保障、财政、民政、卫生健康、交通出行等公共服务（第十四条、第三十三条）",
            "usage": "凭社会保障卡或电子社会保障卡在合作银行网点、服务场所和应用单位办理；首次申领免费（第二十七条）",
            "contact": "广州12345政府服务便民热线"})
        offers = {
            "GZ-YB": ("医保就医结算", "定点医疗机构门诊、住院费用直接结算", "已参加广州市基本医疗保险，卡已启用",
                      "在定点医疗机构出示社会保障卡或电子社保卡，刷卡结算", "即时结算"),
            "GZ-JT": ("公共交通乘车", "地铁、公交刷卡或扫码乘车", "卡已启用，交通应用未锁定",
                      "进站刷卡或出示电子社保卡乘车码", "即时"),
        }
        for code, (title, items, conditions, procedure, limit) in offers.items():
            guides.publish(s, actor(f"{APP_AGENCY_USERS[code]}.op1"), self.agency_ids[code], {
                "title": title, "service_items": items, "conditions": conditions, "procedure": procedure,
                "time_limit": limit})
        hotline = staff["h12345.op1"]
        complaints.file(s, complaints.Intake(
            kind=ComplaintKind.COMPLAINT, complainant_type=ComplainantType.NATURAL_PERSON,
            complainant_name=self.name(True), complainant_phone=self._mobile(), party_kind=PartyKind.BANK,
            party_bank_id=self.banks["ICBC-GZ"], summary="网点以系统故障为由两次拒绝受理补卡申请，未告知其他办理渠道。"),
            channel=IntakeChannel.HOTLINE,
            actor=Actor(role=Role.HOTLINE_OPERATOR, channel=Channel.GOV_HOTLINE, user_id=hotline.id,
                        agency_id=hotline.agency_id))
        complaints.file(s, complaints.Intake(
            kind=ComplaintKind.REPORT, complainant_type=ComplainantType.NATURAL_PERSON, anonymous=True,
            party_kind=PartyKind.ISSUING, about_staff=True, staff_description="服务大厅窗口工作人员",
            summary="服务大厅工作人员向办事群众收取加急费用，未开具票据。"), channel=IntakeChannel.WEB)
        first = s.scalars(select(Person).order_by(Person.id)).first()
        if first is not None:
            legacy.link(s, actor("sscc.clerk1"), first.id, legacy.LegacyIn(
                kind=LegacyKind.SOCIAL_INSURANCE_CARD, number=f"GZSB{first.id:08d}", issuer="广州市社会保险基金管理中心",
                issued_on=date(2012, 3, 1)))
        s.commit()

    # -------------------------------------------------------------------- people

    @staticmethod
    def given_name(rng: Random, male: bool) -> str:
        pool = GIVEN_MALE if male else GIVEN_FEMALE
        return rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.85 else "")

    def name(self, male: bool) -> str:
        return self.rng.choice(SURNAMES) + self.given_name(self.rng, male)

    def _mobile(self) -> str:
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randint(0, 99_999_999):08d}"

    def _address(self, district: str) -> str:
        rng = self.rng
        estate = rng.choice(ESTATE_WORDS) + rng.choice(ESTATES)
        return (f"广州市{district}{rng.choice(STREETS[district])}{rng.randint(1, 600)}号{estate}"
                f"{rng.randint(1, 30)}栋{rng.randint(1, 33)}{rng.randint(1, 8):02d}房")

    def _birth(self, min_age: int, max_age: int) -> date:
        start = self.today.replace(year=self.today.year - max_age - 1) + timedelta(days=1)
        end = self.today.replace(year=self.today.year - min_age)
        return start + timedelta(days=self.rng.randint(0, (end - start).days))

    def _number(self, region: str, birth: date, male: bool) -> str:
        """An unused 18-digit number (GB 11643): region, birth date, sequence (odd: male), check."""
        while True:
            seq = self.rng.randint(0, 99) * 10 + self.rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
            first17 = f"{region}{birth:%Y%m%d}{seq:03d}"
            number = first17 + mod11_2_check_char(first17)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def _occupation(self, age: int) -> str:
        if age < 18:
            return "学生"
        if age >= 62 or (age >= 55 and self.rng.random() < 0.6):
            return "退休人员"
        if age <= 22 and self.rng.random() < 0.5:
            return "学生"
        return self.rng.choice(OCCUPATIONS)

    def _bank(self) -> int:
        ids = list(self.bank_weights)
        return self.rng.choices(ids, weights=[self.bank_weights[i] for i in ids])[0]

    def profile(self, scenario: str, special: tuple | None = None) -> Profile:
        rng = self.rng
        if special:
            kind, doc_type, region, name, ethnicity = special
            birth = self._birth(25, 60)
            male = kind in ("hk", "tw", "pr") and name != "梁嘉欣"
            nationality = None
            if doc_type is DocumentType.FOREIGN_PERMANENT_RESIDENCE:
                nationality = region
                number = self._number("944" + _ISO_NUMERIC[region], birth, male)
            elif doc_type is DocumentType.PASSPORT:
                nationality = region
                number = f"C{rng.randint(0, 9_999_999):07d}"
            else:
                number = self._number(region, birth, male)
            phone = {"hk": f"+852{rng.choice('5679')}{rng.randint(0, 9_999_999):07d}",
                     "mo": f"+8536{rng.randint(0, 9_999_999):07d}"}.get(kind) or self._mobile()
            district = rng.choice(["天河区", "越秀区", "海珠区", "番禺区", "南沙区"])
            return Profile(
                scenario=scenario, kind=kind, age=(self.today - birth).days // 365, doc_type=str(doc_type),
                doc_number=number, nationality=nationality,
                name=name, birth=birth, ethnicity=ethnicity, phone=phone, address=self._address(district),
                occupation=rng.choice(["工程师", "教师", "设计师", "销售", "个体工商户", "律师"]),
                photo=rng.choice(_photos()), bank_id=self._bank(),
                shared={"household_registration": False, "insured": True, "valid_until": None, "name": name,
                        "address": None, "ethnicity": None},
            )
        # Residents with a citizen ID card.
        kind = "gz" if rng.random() < 0.78 else "migrant"
        min_age, max_age = (16, 80) if rng.random() < 0.93 else (6, 15)
        if scenario in ("active_door_to_door", "cancelled_death"):
            kind, min_age, max_age = "gz", 72, 95
        elif scenario == "active_employer":
            min_age, max_age = 22, 45
        elif scenario in ("rejected", "cancelled_ineligible"):
            kind, min_age, max_age = "migrant", 20, 50
        elif min_age > 15 and rng.random() < 0.15:
            min_age = 60
        male = rng.random() < 0.5
        name = self.name(male)
        birth = self._birth(min_age, max_age)
        district = rng.choices(list(DISTRICT_WEIGHTS), weights=list(DISTRICT_WEIGHTS.values()))[0]
        region = DISTRICT_CODES[rng.choices(list(DISTRICT_WEIGHTS), weights=list(DISTRICT_WEIGHTS.values()))[0]] \
            if kind == "gz" else rng.choice(MIGRANT_REGIONS)
        age = (self.today - birth).days // 365
        occupation = self._occupation(age)
        if scenario == "active_employer" and occupation in ("学生", "退休人员"):
            occupation = rng.choice(OCCUPATIONS)
        ethnicity = rng.choice(ETHNICITIES)
        address = self._address(district)
        shared: dict | None
        if kind == "gz":
            hukou_district = district if rng.random() < 0.7 else rng.choice(list(DISTRICT_CODES))
            outdated = rng.random() < 0.1
            shared = {"household_registration": True, "insured": 16 <= age < 62 and rng.random() < 0.85,
                      "name": name, "ethnicity": ethnicity, "address": self._address(hukou_district),
                      # Out of date on the platform: the applicant is asked again (Art. 9 ¶2).
                      "valid_until": self.today - timedelta(days=rng.randint(1250, 2500)) if outdated else
                      (self.today + timedelta(days=rng.randint(200, 2000)) if rng.random() < 0.2 else None)}
        elif scenario == "rejected" or (scenario != "cancelled_ineligible" and rng.random() < 0.15):
            shared = None  # not on the platform: declares lawful enjoyment of public services (Art. 4)
        else:
            shared = {"household_registration": False, "insured": True, "name": name, "ethnicity": ethnicity,
                      "address": None, "valid_until": None}
        return Profile(
            scenario=scenario, kind=kind, age=age, doc_type=str(DocumentType.RESIDENT_ID),
            doc_number=self._number(region, birth, male), nationality=None, name=name, birth=birth,
            ethnicity=ethnicity, phone=self._mobile(), address=address, occupation=occupation,
            photo=rng.choice(_photos()), bank_id=self._bank(), shared=shared,
        )

    def plan(self) -> list[Profile]:
        rng = self.rng
        scenarios = list(SCENARIO_WEIGHTS)
        extra = self.n - len(scenarios) - len(SPECIALS) - 1
        scenarios += rng.choices(list(SCENARIO_WEIGHTS), weights=list(SCENARIO_WEIGHTS.values()), k=extra)
        rng.shuffle(scenarios)
        profiles = [self.profile(sc) for sc in scenarios]
        specials = [self.profile(rng.choice(["active", "active", "active_express"]), sp) for sp in SPECIALS]
        for sp in specials:  # spread them among the others
            profiles.insert(rng.randint(0, len(profiles)), sp)
        return profiles + [self.guide_profile()]  # last: the others' stories do not depend on it

    def guide_profile(self) -> Profile:
        """The README's resident: Guangzhou household registration, on the platform, an active card."""
        g = GUIDE
        shared = {"household_registration": True, "insured": True, "name": g.name, "ethnicity": "汉族",
                  "address": g.address, "valid_until": None}
        return Profile(scenario="guide", kind="gz", age=(self.today - g.birth).days // 365, doc_type=str(g.doc_type),
                       doc_number=g.doc_number, nationality=None, name=g.name, birth=g.birth, ethnicity="汉族",
                       phone=g.phone, address=g.address, occupation="软件开发", photo=_photos()[0],
                       bank_id=self.banks[g.bank_code], shared=shared)

    def shared_records(self, profiles: list[Profile]) -> None:
        """The government data-sharing platform's records (Art. 9 ¶2), for most residents."""
        for p in profiles:
            if p.shared is None:
                continue
            sh = p.shared
            self.s.add(SharedRecord(
                doc_type=p.doc_type, doc_number_bidx=blind_index("id_number", p.doc_number), name=sh["name"],
                ethnicity=sh["ethnicity"], address=sh["address"], photo=p.photo if sh["name"] else None,
                household_registration=sh["household_registration"], insured=sh["insured"],
                valid_until=sh["valid_until"],
            ))
        self.s.flush()

    # -------------------------------------------------------------------- the whole seed

    def seed_all(self) -> SeedResult:
        """Create the organisations, staff and platform records, then play every resident's story.

        Each story is a generator that yields the time of its next step; the steps of all stories run
        in one global time order with the service clock set to that time, so ids, card numbers and the
        audit chain follow time as they would have in real use."""
        began = time.perf_counter()
        s = self.s
        s.add_all([Counter(name=MARK_SEED, value=self.seed), Counter(name=MARK_RESIDENTS, value=0)])
        self.organisations()
        self.staff()
        profiles = self.plan()
        self.shared_records(profiles)
        s.commit()
        self.echo(f"Organisations, {len(self.credentials)} staff users and "
                  f"{sum(p.shared is not None for p in profiles)} government platform records created; "
                  f"playing the card histories of {len(profiles)} residents…")
        queue = []
        for i, p in enumerate(profiles):
            story = Story(self, p, i)
            steps = story.steps()
            queue.append((next(steps), i, steps, story))
        heapq.heapify(queue)
        done = 0
        with self.vclock.installed():
            while queue:
                at, i, steps, story = heapq.heappop(queue)
                self.vclock.current = at
                try:
                    following = next(steps)
                except StopIteration:
                    continue
                except DomainError as e:
                    s.rollback()
                    raise click.ClickException(
                        f"demo scenario '{story.p.scenario}' (resident {i + 1}) was refused: {e.detail} "
                        f"[{e.article}]") from e
                assert following >= at, (story.p.scenario, at, following)
                heapq.heappush(queue, (following, i, steps, story))
                done += 1
                if done % BATCH == 0:
                    s.commit()
        self.guides_and_cases()
        s.get(Counter, MARK_RESIDENTS).value = len(profiles)
        s.commit()
        result = summarise(s)
        result.staff = self.credentials
        result.seconds = time.perf_counter() - began
        log.info("demo data seeded: %d residents, %d steps, seed %d, %.1f s", result.residents, done, self.seed,
                 result.seconds)
        return result


class Story:
    """One resident's history: ``steps()`` yields the time of each next step, then performs it when
    resumed (the scheduler has set the service clock to that time). Each story has its own random
    stream, so a resident's data does not depend on the others'."""

    def __init__(self, seeder: Seeder, profile: Profile, index: int):
        self.w = seeder
        self.s = seeder.s
        self.p = profile
        self.rng = Random(f"{seeder.seed}/{index}")
        self.t = seeder.end
        self.pins: dict[int, str] = {}

    def steps(self) -> Iterator[datetime]:
        return getattr(self, f"sc_{self.p.scenario}")()

    # -------------------------------------------------------------------- time

    def _office_time(self, d: date, *, evening: bool = False) -> datetime:
        minutes = self.rng.randint(8 * 60, 22 * 60) if evening else self.rng.randint(9 * 60, 17 * 60 + 30)
        local = datetime.combine(d, dtime(0), tzinfo=clock.CHINA) + timedelta(minutes=minutes)
        return local.astimezone(timezone.utc)

    def _workday(self, d: date) -> date:
        while not self.w.cal.is_workday(d).workday:
            d += timedelta(days=1)
        return d

    def _set(self, cand: datetime, latest: datetime, first: bool = False) -> datetime:
        self.t = min(cand, latest) if first else max(min(cand, latest), self.t + timedelta(seconds=30))
        return self.t

    def start(self, min_days_ago: int, max_days_ago: int) -> datetime:
        d = self.w.today - timedelta(days=self.rng.randint(min_days_ago, max_days_ago))
        return self._set(self._office_time(d), self.w.end - timedelta(minutes=30), first=True)

    def later(self, min_days: int = 0, max_days: int = 0, *, workday: bool = False, reserve: int = 0,
              online: bool = False) -> datetime:
        """The time of the next step: the same visit (minutes later) or ``min..max`` days on, in office
        hours (``online``: any time of day), never past the real now less ``reserve`` days (room for the
        steps still to come)."""
        days = self.rng.randint(min_days, max(min_days, max_days))
        if days == 0:
            cand = self.t + timedelta(minutes=self.rng.randint(3, 40))
        else:
            d = self.t.astimezone(clock.CHINA).date() + timedelta(days=days)
            cand = self._office_time(self._workday(d) if workday else d, evening=online)
        return self._set(cand, self.w.end - timedelta(days=reserve, minutes=1))

    def goto(self, days_ago: int, *, workday: bool = False) -> datetime:
        d = self.w.today - timedelta(days=days_ago)
        return self._set(self._office_time(self._workday(d) if workday else d), self.w.end - timedelta(minutes=1))

    # -------------------------------------------------------------------- actors

    def clerk(self) -> Actor:
        return self.rng.choice(self.w.clerks)

    def teller(self, bank_id: int, *, instant: bool | None = None) -> Actor:
        w = self.w
        if instant:
            return w.instant_teller[bank_id]
        tellers = w.tellers[bank_id]
        if instant is False and len(tellers) > 1:
            tellers = [t for t in tellers if t is not w.instant_teller.get(bank_id)]
        return self.rng.choice(tellers)

    @staticmethod
    def resident(person_id: int | None) -> Actor:
        return Actor(role=Role.RESIDENT, channel=Channel.ONLINE, person_id=person_id)

    # -------------------------------------------------------------------- single steps

    def register(self, actor: Actor) -> Person:
        """Register through the people service: what the platform holds valid is not asked again (Art. 9 ¶2)."""
        p = self.p
        platform = people.LocalSharingPlatform(self.s)
        needed = set(people.still_needed(p.doc_type, p.doc_number, platform))
        applicant = people.Applicant(
            doc_type=p.doc_type, doc_number=p.doc_number, nationality=p.nationality, phone=p.phone,
            occupation=p.occupation,
            name=p.name if "name" in needed else None,
            ethnicity=p.ethnicity if "name" in needed else None,
            address=p.address if "address" in needed else None,
            photo=p.photo if "photo" in needed else None,
            eligibility=EligibilityBasis.PUBLIC_SERVICES if p.shared is None else None,
        )
        return people.register(self.s, actor, applicant, platform)

    def apply(self, *, online: bool | None = None, mode: ServiceMode = ServiceMode.COUNTER,
              referral: Referral = Referral.SELF, express: bool = False, person: Person | None = None) -> Card:
        """Register (if new) and apply, online or at an outlet of the chosen bank (Art. 7, 8, 9)."""
        p = self.p
        if online is None:
            online = mode is ServiceMode.COUNTER and self.rng.random() < 0.45
        delivery = lifecycle.Delivery(DeliveryMethod.EXPRESS, p.address) if express else \
            lifecycle.Delivery(DeliveryMethod.PICKUP)
        if online:
            person = person or self.register(self.resident(None))
            return lifecycle.apply(self.s, self.resident(person.id), person.id, bank_id=p.bank_id,
                                   delivery=delivery, referral=referral)
        teller = self.teller(p.bank_id, instant=True if mode is ServiceMode.INSTANT else
                             False if mode is ServiceMode.DOOR_TO_DOOR else None)
        person = person or self.register(teller)
        return lifecycle.apply(self.s, teller, person.id, bank_id=p.bank_id, delivery=delivery, service_mode=mode,
                               referral=referral, id_verified=True)  # 持本人有效身份证件 (Art. 7, 10 ¶2)

    def pin(self) -> str:
        while True:
            pin = f"{self.rng.randint(0, 999_999):06d}"
            if len(set(pin)) > 2 and pin not in "0123456789" and pin not in "9876543210":
                return pin

    def activate(self, card: Card, teller: Actor) -> Card:
        """Activation at an outlet with a new PIN (Art. 6, 19): the normal service, full-cost argon2id."""
        pin = self.pin()
        lifecycle.activate(self.s, teller, card.id, pin=pin)
        self.pins[card.id] = pin
        return card

    def hotline_call(self, person_id: int) -> Actor:
        """12345: the caller reads out the document, name and mobile; the verification opens the
        operator's remit on this holder (Art. 16, 21)."""
        from app.services import disclosure

        p = self.s.get(Person, person_id)
        disclosure.hotline_caller(self.s, self.w.hotline, p.doc_type, p.doc_number, name=p.name, phone=p.phone,
                                  nationality=p.nationality)
        return self.w.hotline

    def loss(self, card: Card) -> Card:
        """Register a loss through one of the Art. 21 channels."""
        channel = self.rng.choice(["online", "gov_hotline", "bank_hotline", "outlet", "online"])
        actor = {
            "online": lambda: self.resident(card.person_id),
            "gov_hotline": lambda: self.hotline_call(card.person_id),
            "bank_hotline": lambda: self.teller(card.bank_id).via(Channel.BANK_HOTLINE),
            "outlet": lambda: self.teller(card.bank_id),
        }[channel]()
        return lifecycle.register_loss(self.s, actor, card.id, id_verified=channel == "outlet")  # Art. 21

    def reissue(self, card: Card, *, instant: bool = False) -> Card:
        """Reissue (Art. 23, 25): online or at an outlet; urgently at an instant outlet (Art. 25 ¶2)."""
        if instant:
            return lifecycle.reissue(self.s, self.teller(card.bank_id, instant=True), card.id,
                                     delivery=lifecycle.Delivery(DeliveryMethod.PICKUP),
                                     service_mode=ServiceMode.INSTANT, id_verified=True)
        if self.rng.random() < 0.5:
            delivery = lifecycle.Delivery(DeliveryMethod.EXPRESS, self.p.address) if self.rng.random() < 0.5 else \
                lifecycle.Delivery(DeliveryMethod.PICKUP)
            return lifecycle.reissue(self.s, self.resident(card.person_id), card.id, delivery=delivery)
        return lifecycle.reissue(self.s, self.teller(card.bank_id), card.id,
                                 delivery=lifecycle.Delivery(DeliveryMethod.PICKUP), id_verified=True)

    def replace_damaged(self, card: Card, *, quality_defect: bool = False) -> Card:
        return lifecycle.replace(self.s, self.teller(card.bank_id), card.id, reason=ReplacementReason.DAMAGED,
                                 quality_defect=quality_defect, delivery=lifecycle.Delivery(DeliveryMethod.PICKUP))

    def lock(self, card: Card, *, online: bool | None = None) -> Field:
        """Lock one application field (Art. 6): online by the holder or at an outlet."""
        fld, reason = self.rng.choice([
            (Field.TRANSPORT, "持卡人申请暂停交通出行应用"), (Field.FINANCE, "持卡人申请锁定金融功能"),
            (Field.MEDICAL, "持卡人申请暂停医保结算应用"), (Field.PROVIDENT_FUND, "持卡人申请锁定公积金应用"),
        ])
        online = self.rng.random() < 0.4 if online is None else online
        actor = self.resident(card.person_id) if online else self.teller(card.bank_id)
        lifecycle.set_field_lock(self.s, actor, card.id, field=fld, locked=True, reason=reason)
        return fld

    # -------------------------------------------------------------------- multi-step paths

    def progress(self, card: Card, target: CardStatus, *, reserve: int = 0) -> Iterator[datetime]:
        """Drive a card along the production path to ``target`` (as ``tests.factories`` does)."""
        s = self.s
        assert target in (CardStatus.APPLIED, CardStatus.ACCEPTED, CardStatus.IN_PRODUCTION, CardStatus.PRODUCED,
                          CardStatus.IN_TRANSIT, CardStatus.ISSUED, CardStatus.ACTIVE), target
        while card.status is not target:
            st = card.status
            express = card.application.delivery_method is DeliveryMethod.EXPRESS
            if st is CardStatus.APPLIED:
                yield self.later(0, 2, workday=True, reserve=reserve)
                lifecycle.accept(s, self.clerk(), card.id)
            elif st is CardStatus.ACCEPTED:
                yield self.later(1, 2, workday=True, reserve=reserve)
                lifecycle.start_production(s, self.clerk(), card.id)
            elif st is CardStatus.IN_PRODUCTION:
                yield self.later(4, 9, workday=True, reserve=reserve)
                lifecycle.finish_production(s, self.clerk(), card.id)
            elif st is CardStatus.PRODUCED and express:
                yield self.later(0, 1, workday=True, reserve=reserve)
                lifecycle.dispatch(s, self.clerk(), card.id, tracking_ref=f"SF{self.rng.randint(10**12, 10**13 - 1)}")
            elif st is CardStatus.PRODUCED:
                yield self.later(1, 15, reserve=reserve)
                lifecycle.pick_up(s, self.teller(card.bank_id), card.id, id_verified=True)
            elif st is CardStatus.IN_TRANSIT:
                yield self.later(1, 3, reserve=reserve)
                lifecycle.deliver(s, self.clerk(), card.id)
            elif st is CardStatus.ISSUED:
                # Activated at the counter on pickup, or at an outlet some days after an express delivery.
                yield self.later(1, 20, reserve=reserve) if express else self.later(0, 0)
                self.activate(card, self.teller(card.bank_id))
            else:  # pragma: no cover
                raise AssertionError(st)
        return card

    def first_active(self, start: tuple[int, int] = (40, 1100), *, instant: bool = False, door: bool = False,
                     employer: bool = False, express: bool | None = None, reserve: int = 0) -> Iterator[datetime]:
        """A first card, applied for ``start`` days ago and activated; variants drawn at random."""
        p, rng = self.p, self.rng
        yield self.start(*start)
        if not (instant or door) and p.age >= 70 and rng.random() < 0.35:
            door = True  # Art. 8 ¶2: the bank comes to the home of people with limited mobility
        if not (instant or door) and rng.random() < 0.03:
            instant = True
        if express is None:
            express = not (instant or door) and rng.random() < 0.25
        referral = Referral.SELF
        if employer or (p.occupation not in ("学生", "退休人员") and rng.random() < 0.12):
            referral = Referral.EMPLOYER  # Art. 8 ¶1: the employer told a new employee to apply
        elif door and rng.random() < 0.6:
            referral = Referral.COMMUNITY
        mode = ServiceMode.INSTANT if instant else ServiceMode.DOOR_TO_DOOR if door else ServiceMode.COUNTER
        card = self.apply(mode=mode, referral=referral, express=express and not instant,
                          online=False if mode is not ServiceMode.COUNTER else None)
        if card.status is CardStatus.ISSUED:  # instant issuance (Art. 10 ¶2): activated at once
            yield self.later(0, 0)
            return self.activate(card, self.teller(card.bank_id, instant=True))
        return (yield from self.progress(card, CardStatus.ACTIVE, reserve=reserve))

    def first_pending(self, start: tuple[int, int], target: CardStatus, *, express: bool = False,
                      online: bool | None = None) -> Iterator[datetime]:
        yield self.start(*start)
        card = self.apply(express=express, online=online)
        return (yield from self.progress(card, target))

    def running(self, accepted_days_ago: int) -> Iterator[datetime]:
        """Accepted ``accepted_days_ago`` calendar days ago and still in production (Art. 10, 25)."""
        yield self.start(accepted_days_ago + 1, accepted_days_ago + 3)
        card = self.apply(express=self.rng.random() < 0.3)
        yield self.goto(accepted_days_ago, workday=True)
        lifecycle.accept(self.s, self.clerk(), card.id)
        yield self.later(1, 2, workday=True)
        lifecycle.start_production(self.s, self.clerk(), card.id)

    # -------------------------------------------------------------------- money (Art. 13)

    def _key(self, card: Card) -> str:
        """A new idempotency key (keys of the feeds share the scope "system": the holder's id keeps them apart)."""
        self.keys = getattr(self, "keys", 0) + 1
        return f"demo-{card.person_id}-{self.keys}"

    def money(self, card: Card, *, visits: int = 2, reserve: int = 0) -> Iterator[datetime]:
        """A few months of money on the card's two accounts, through the settlement service as the real
        posters would post it: the medical insurance fund's monthly transfer-in (a feed), a benefit for the
        retired, cash deposits and a withdrawal at the holder's bank (card + PIN), a hospital's settlement
        from the personal account, a premium paid online by the holder (Art. 13 ¶2, ¶3, 19)."""
        from app.models.enums import TransactionType as T
        from app.services import settlement
        from app.services.settlement import Consent

        s, rng = self.s, self.rng
        pin = Consent(card_number=card.number, pin=self.pins[card.id])
        for month in range(visits):
            yield self.later(5, 30, reserve=reserve)
            settlement.credit(s, SYSTEM, T.FUND_TRANSFER_IN, rng.randint(80, 320) * 100, key=self._key(card),
                              card_number=card.number, reference=f"医保划入{month + 1}")
            if self.p.age >= 60:
                settlement.credit(s, SYSTEM, T.BENEFIT_PAYMENT, rng.randint(2_800, 5_200) * 100, key=self._key(card),
                                  card_number=card.number, reference="养老金")
            yield self.later(1, 20, workday=True, reserve=reserve)
            teller = self.teller(card.bank_id)
            settlement.credit(s, teller, T.DEPOSIT, rng.choice([1_000, 2_000, 3_000]) * 100, key=self._key(card),
                              card_number=card.number)
        yield self.later(1, 15, workday=True, reserve=reserve)
        settlement.debit(s, self.teller(card.bank_id), T.WITHDRAWAL, rng.choice([200, 300, 500]) * 100,
                         key=self._key(card), consent=pin)
        if self.w.medical_desk is not None:
            yield self.later(1, 20, reserve=reserve)
            settlement.debit(s, self.w.medical_desk, T.MEDICAL_SETTLEMENT, rng.randint(1_500, 8_000),
                             key=self._key(card), consent=pin, reference=f"门诊{rng.randint(100000, 999999)}")
        yield self.later(1, 30, online=True, reserve=reserve)
        settlement.debit(s, self.resident(card.person_id), T.PREMIUM_PAYMENT, 38_000, key=self._key(card),
                         consent=Consent(pin=self.pins[card.id]), reference="城乡居民医保年度缴费")
        return card

    # -------------------------------------------------------------------- scenarios

    def sc_active(self):
        card = yield from self.first_active()
        if self.rng.random() < 0.2:
            yield from self.money(card, visits=1)
        if self.rng.random() < 0.03:
            yield self.later(10, 300)
            self.lock(card)

    def sc_guide(self):
        card = yield from self.first_active((200, 400), express=False)
        yield from self.money(card, visits=3)

    def sc_active_instant(self):
        yield from self.first_active(instant=True)

    def sc_active_door_to_door(self):
        yield from self.first_active(door=True)

    def sc_active_employer(self):
        yield from self.first_active((20, 400), employer=True)

    def sc_active_express(self):
        yield from self.first_active(express=True)

    def sc_issued(self):
        yield from self.first_pending((20, 60), CardStatus.ISSUED, express=self.rng.random() < 0.4)

    def sc_applied(self):
        yield from self.first_pending((0, 1), CardStatus.APPLIED, express=self.rng.random() < 0.3, online=True)

    def sc_accepted(self):
        yield from self.first_pending((1, 3), CardStatus.ACCEPTED, express=self.rng.random() < 0.3)

    def sc_in_production(self):
        yield from self.first_pending((3, 8), CardStatus.IN_PRODUCTION, express=self.rng.random() < 0.3)

    def sc_overdue(self):
        yield from self.running(self.rng.randint(20, 30))

    def sc_due_soon(self):
        yield from self.running(self.rng.randint(13, 15))

    def sc_produced(self):
        yield from self.first_pending((14, 22), CardStatus.PRODUCED)

    def sc_in_transit(self):
        yield from self.first_pending((12, 18), CardStatus.IN_TRANSIT, express=True)

    def sc_loss_registered(self):
        card = yield from self.first_active((200, 1100), reserve=120)
        yield from self.money(card, visits=1, reserve=20)  # the statement then shows the account suspended
        yield self.later(20, 600, online=True)
        self.loss(card)

    def sc_loss_deregistered(self):
        """Art. 22: the holder found the card before applying for a reissue."""
        card = yield from self.first_active((200, 1100), reserve=40)
        yield self.later(20, 600, online=True, reserve=20)
        self.loss(card)
        yield self.later(1, 10)
        lifecycle.deregister_loss(self.s, self.teller(card.bank_id), card.id, id_verified=True)

    def sc_reissued_active(self):
        """Art. 23: a reissue, with or without a loss registered first; the old card is void for ever."""
        card = yield from self.first_active((300, 1100), reserve=60)
        if self.rng.random() < 0.6:
            yield self.later(20, 500, online=True, reserve=50)
            self.loss(card)
            yield self.later(0, 5, reserve=45)
        else:
            yield self.later(20, 500, reserve=45)
        new = self.reissue(card)
        yield from self.progress(new, CardStatus.ACTIVE)

    def sc_reissued_pending(self):
        card = yield from self.first_active((200, 1100), reserve=20)
        yield self.goto(self.rng.randint(6, 12))
        self.loss(card)
        yield self.later(0, 2)
        new = self.reissue(card)
        yield from self.progress(new, self.rng.choice([CardStatus.APPLIED, CardStatus.ACCEPTED,
                                                       CardStatus.IN_PRODUCTION]))

    def sc_reissue_instant(self):
        """Urgent reissue at an instant card-making outlet (Art. 25 ¶2)."""
        card = yield from self.first_active((200, 1100), reserve=20)
        yield self.later(20, 600, online=True, reserve=5)
        self.loss(card)
        yield self.later(0, 3)
        new = self.reissue(card, instant=True)
        yield self.later(0, 0)
        self.activate(new, self.teller(new.bank_id, instant=True))

    def sc_replacement_pending(self):
        """Art. 24(1): a damaged card stays usable until its replacement is issued."""
        card = yield from self.first_active((200, 1100), reserve=20)
        yield self.goto(self.rng.randint(4, 12))
        new = self.replace_damaged(card)
        yield from self.progress(new, self.rng.choice([CardStatus.ACCEPTED, CardStatus.IN_PRODUCTION,
                                                       CardStatus.PRODUCED]))

    def sc_replaced_damaged(self):
        """A chip that fails within a year of receipt: the replacement fee is waived (Art. 27(2))."""
        card = yield from self.first_active((150, 330), reserve=40)
        yield self.later(20, 100, reserve=30)
        new = self.replace_damaged(card, quality_defect=True)
        yield from self.progress(new, CardStatus.ACTIVE)

    def sc_bank_change(self):
        """Art. 24(3): a new card with the new bank; the former bank confirms the unbinding (most do)."""
        card = yield from self.first_active((300, 1100), reserve=60)
        yield self.later(30, 500, reserve=40)
        old_bank = card.bank_id
        new_bank = self.rng.choice(sorted(b for b in self.w.bank_weights if b != old_bank))
        new = lifecycle.replace(self.s, self.teller(new_bank), card.id, reason=ReplacementReason.BANK_CHANGE,
                                new_bank_id=new_bank, delivery=lifecycle.Delivery(DeliveryMethod.PICKUP))
        if not self.w.unbind_confirmed or self.rng.random() < 0.7:
            self.w.unbind_confirmed += 1
            yield self.later(1, 6, workday=True, reserve=30)
            lifecycle.confirm_unbind(self.s, self.teller(old_bank), card.person_id)
        yield from self.progress(new, CardStatus.ACTIVE)

    def sc_name_change(self):
        """Art. 24(2): a lawful change of name, recorded at an outlet; the holder takes the replacement
        offered (可以申请换领: the holder's own application, at the fee of Art. 27)."""
        card = yield from self.first_active((400, 1100), reserve=60)
        yield self.later(30, 600, reserve=40)
        new_name = self.p.name[0] + self.w.given_name(self.rng, self.s.get(Person, card.person_id).sex == "M")
        teller = self.teller(card.bank_id)
        _, offer = people.change_info(self.s, teller, card.person_id, {"name": new_name}, id_verified=True)
        new = lifecycle.replace(self.s, teller, offer.card_id, reason=offer.reason,
                                delivery=lifecycle.Delivery(DeliveryMethod.PICKUP))
        yield from self.progress(new, CardStatus.ACTIVE)

    def sc_cancelled_death(self):
        """Art. 26: public security's death record reaches the system through the government feed."""
        yield from self.first_active((200, 1100), reserve=15)
        last = self.t.astimezone(clock.CHINA).date()
        yield self.later(15, 700, online=True)
        died_on = max(last, self.t.astimezone(clock.CHINA).date() - timedelta(days=self.rng.randint(1, 10)))
        people.apply_government_notice(self.s, SYSTEM, self.p.doc_type, self.p.doc_number, kind="death",
                                       effective=died_on)

    def sc_cancelled_request(self):
        """Art. 6: the holder asks the bank to cancel (moving away from Guangzhou, say)."""
        card = yield from self.first_active((200, 1100), reserve=10)
        yield self.later(30, 700)
        lifecycle.cancel(self.s, self.teller(card.bank_id), card.person_id, reason=CancellationReason.HOLDER_REQUEST)

    def sc_cancelled_ineligible(self):
        """Art. 26: no longer lawfully enjoys Guangzhou's social security (insurance moved elsewhere);
        the issuing agency records the notice and cancels."""
        yield from self.first_active((200, 1100), reserve=10)
        yield self.later(60, 700, workday=True)
        people.apply_government_notice(self.s, self.clerk(), self.p.doc_type, self.p.doc_number, kind="ineligible",
                                       effective=self.t.astimezone(clock.CHINA).date())

    def sc_renewed(self):
        """Cancelled on moving away, a new card on coming back (kind ``renewed``; the fee applies, Art. 27)."""
        card = yield from self.first_active((900, 1150), reserve=400)
        yield self.later(30, 200, reserve=300)
        lifecycle.cancel(self.s, self.teller(card.bank_id), card.person_id, reason=CancellationReason.HOLDER_REQUEST)
        yield self.later(60, 200, reserve=40)
        new = self.apply(person=self.s.get(Person, card.person_id))
        yield from self.progress(new, CardStatus.ACTIVE)

    def sc_rejected(self):
        """Art. 4: the declared basis could not be verified by the issuing agency."""
        yield self.start(3, 20)
        card = self.apply(online=True)
        yield self.later(1, 2, workday=True)
        lifecycle.reject(self.s, self.clerk(), card.id, reason="未能核实在穗合法享受社会保障或其他公共服务的依据（第四条）")

    def sc_field_lock(self):
        card = yield from self.first_active((100, 1100), reserve=5)
        yield self.later(10, 500)
        self.lock(card)

    def sc_field_unlock(self):
        card = yield from self.first_active((100, 1100), reserve=30)
        yield self.later(10, 500, online=True, reserve=20)
        fld = self.lock(card, online=True)
        yield self.later(3, 60)
        lifecycle.set_field_lock(self.s, self.teller(card.bank_id), card.id, field=fld, locked=False,
                                 reason="持卡人本人到网点申请解锁")

    def sc_pin_reset(self):
        """Art. 19: a forgotten PIN is reset at an outlet with the holder's ID checked."""
        card = yield from self.first_active((100, 1100), reserve=5)
        yield self.later(10, 500)
        pin = self.pin()
        lifecycle.reset_pin(self.s, self.teller(card.bank_id), card.id, new_pin=pin, id_verified=True)
        self.pins[card.id] = pin

    def sc_pin_change(self):
        card = yield from self.first_active((100, 1100), reserve=5)
        yield self.later(10, 500, online=True)
        pin = self.pin()
        lifecycle.change_pin(self.s, self.resident(card.person_id), card.id, old_pin=self.pins[card.id], new_pin=pin)
        self.pins[card.id] = pin


def summarise(session: Session) -> SeedResult:
    statuses = {str(st): 0 for st in CardStatus}
    for st, n in session.execute(select(Card.status, func.count()).group_by(Card.status)):
        statuses[str(st)] = n
    docs = {str(t): n for t, n in session.execute(select(Person.doc_type, func.count()).group_by(Person.doc_type))}
    watch = deadlines.watch_list(session)
    locks = session.scalar(select(func.count()).select_from(FieldStatus).where(FieldStatus.locked.is_(True)))
    return SeedResult(residents=sum(docs.values()), statuses=statuses, staff=[], documents=docs,
                      overdue=sum(r.overdue for r in watch), due_soon=sum(not r.overdue for r in watch),
                      locks=locks or 0)


# ----------------------------------------------------------------------------------------------
# The command
# ----------------------------------------------------------------------------------------------


def _login_row(session: Session, user: StaffUser, password: str) -> tuple[str, str, str, str]:
    """username, role, organisation (the outlet for a teller), password: a row of the printed table."""
    if user.outlet_id:
        outlet = session.get(Outlet, user.outlet_id)
        org = outlet.name + ("（即时制卡网点）" if outlet.instant else "")
    else:
        org = session.get(Agency, user.agency_id).name if user.agency_id else "-"
    return user.username, str(user.role), org, password


def _where(engine) -> str:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return f"SQLite file: {url.database}"
    return f"database: {url.render_as_string(hide_password=True)}"


def _existing(session: Session) -> str | None:
    """'demo' if this database holds demo data, 'other' if it holds other data, None if empty."""
    marker = session.get(Counter, MARK_SEED)
    if marker is not None:
        return "demo"
    for model in (Bank, Agency, StaffUser, Person, Card):
        if session.scalar(select(func.count()).select_from(model)):
            return "other"
    return None


@demo_cli.command("seed")
@click.option("--residents", default=300, show_default=True, type=click.IntRange(MIN_RESIDENTS, 100_000),
              help="How many residents (cardholders) to create.")
@click.option("--seed", "seed", default=42, show_default=True, type=click.IntRange(0, 2**31 - 1),
              help="Random seed: the same seed gives the same data (dates relative to today).")
@click.option("--reset", is_flag=True, help="Drop and recreate all tables first (SQLite, or with --yes).")
@click.option("--yes", is_flag=True, help="Confirm --reset on a database other than SQLite.")
def seed_command(residents: int, seed: int, reset: bool, yes: bool) -> None:
    """Fill an empty database with realistic Guangzhou demo data and print the staff logins."""
    engine = db.engine
    where = _where(engine)
    if reset:
        if engine.url.get_backend_name() != "sqlite" and not yes:
            raise click.UsageError(f"--reset drops every table of {where}; add --yes to confirm.")
        db.session.remove()
        db.drop_all()
        db.create_all()
        click.echo(f"Dropped and recreated all tables ({where}).")
    if not inspect(engine).has_table(Card.__tablename__):
        raise click.ClickException(f"The database has no tables ({where}): run `flask db upgrade` first.")
    session = db.session
    existing = _existing(session)
    if existing == "demo":
        marker = session.get(Counter, MARK_RESIDENTS)
        if not marker or not marker.value:
            raise click.ClickException("An earlier demo seed was interrupted: run `flask demo seed --reset`.")
        click.echo(f"The database already has demo data (seed {session.get(Counter, MARK_SEED).value}, "
                   f"{marker.value} residents): nothing to do. Use --reset to start again. ({where})")
        return
    if existing == "other":
        raise click.ClickException(f"The database already holds data that is not demo data ({where}); "
                                   "the demo seeder only fills an empty database.")
    result = Seeder(session, residents=residents, seed=seed).seed_all()
    _report(result, where)


@demo_cli.command("passwords")
@click.argument("usernames", nargs=-1)
def passwords_command(usernames: tuple[str, ...]) -> None:
    """Give the demo staff accounts (all, or the USERNAMES given) new random passwords and print
    them: `flask demo seed` shows the passwords only once. Demo databases only."""
    from app.services import audit, sessions

    session = db.session
    if _existing(session) != "demo":
        raise click.ClickException(f"The database holds no demo data or data that is not demo data "
                                   f"({_where(db.engine)}): passwords are reset only on a demo database.")
    q = select(StaffUser).order_by(StaffUser.id)
    if usernames:
        q = q.where(StaffUser.username.in_(usernames))
    users = session.scalars(q).all()
    unknown = sorted(set(usernames) - {u.username for u in users})
    if unknown:
        raise click.ClickException(f"No demo staff account named {', '.join(unknown)}.")
    rows = []
    for user in users:
        password = secrets.token_urlsafe(9)
        user.password_hash = hash_password(password)
        sessions.end_all_of_staff(session, user.id, "password reset")  # a new password ends the old sign-ins
        rows.append(_login_row(session, user, password))
    audit.record(session, Actor(role=Role.SYSTEM, channel=Channel.AGENCY), "demo.passwords_reset", changes={"usernames": [u.username for u in users]})
    session.commit()
    click.echo("New passwords (POST /api/auth/login); the old ones no longer work and their sessions are ended:")
    click.echo(_table(["username", "role", "organisation", "password"], [list(row) for row in rows]))


def _report(r: SeedResult, where: str) -> None:
    echo = click.echo
    echo("")
    echo(f"Demo data seeded in {r.seconds:.1f} s: {r.residents} residents ({where}).")
    echo("Residents by document: " + ", ".join(f"{k} {v}" for k, v in sorted(r.documents.items())))
    echo("")
    echo("Cards by state:")
    echo(_table(["state", "cards"], [[k, str(v)] for k, v in r.statuses.items()]))
    echo(f"total: {sum(r.statuses.values())}")
    echo("")
    echo(f"Issuance deadlines (Art. 10, 25): {r.overdue} overdue, {r.due_soon} due within 3 working days.")
    echo(f"Locked application fields (Art. 6): {r.locks}.")
    echo("")
    g = GUIDE
    echo(f"Demo resident: {g.name}, {g.doc_type} {g.doc_number}, mobile {g.phone[:3]}****{g.phone[-4:]} "
         "(sign in: POST /api/auth/resident/otp, then `.venv/bin/flask demo sms` shows the code; see README).")
    echo("")
    echo("Staff logins (POST /api/auth/login). The passwords are shown only now; they are stored as "
         "argon2id hashes (`.venv/bin/flask demo passwords` sets and prints new ones):")
    echo(_table(["username", "role", "organisation", "password"], [list(row) for row in r.staff]))
