"""A synthetic Chinese city for the demo and for tests: pure, deterministic for a seed.

Two districts of subdistricts (街道), communities (社区) and grids (网格, named after 小区) with
adjacency; reporting units (机关, 事业单位, 企业) with their party organisations; and in-service
party members with names, valid-format phones, ID numbers with correct GB 11643 check digits,
homes, employers, skills and free time. No I/O: the seeder writes it out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta

SKILLS = (
    "医疗护理", "法律咨询", "心理疏导", "水电维修", "政策宣讲", "文艺表演", "理发",
    "电脑维修", "驾驶", "摄影", "书法", "助老陪护", "家电维修", "课业辅导", "垃圾分类指导",
    "应急救护", "反诈宣传", "手工编织",
)

DISTRICTS = (("清河区", "370102"), ("临江区", "370103"), ("北山区", "370104"), ("南湖区", "370105"))
SUBDISTRICT_WORDS = (
    "朝阳", "和平", "解放", "建设", "新华", "人民", "文化", "胜利", "光明", "长青", "东风", "振兴",
    "向阳", "幸福", "团结", "永安",
)
COMMUNITY_WORDS = (
    "翠竹", "梧桐", "丹桂", "银杏", "青松", "紫藤", "海棠", "玉兰", "芙蓉", "月季", "石榴", "杏林",
    "柳岸", "荷塘", "枫林", "桃源", "樱花", "兰亭", "菊园", "梅岭", "锦绣", "金桥", "泉城", "花园",
    "百合", "丁香", "凌霄", "木槿", "蔷薇", "茉莉", "芍药", "牡丹", "紫荆", "合欢", "香樟", "白杨",
    "翠湖", "清泉", "凤凰", "龙山", "松涛", "竹韵", "云锦", "春晖",
)
COMPOUND_WORDS = (
    "阳光", "和谐", "书香", "锦华", "鑫苑", "富力", "绿城", "恒安", "嘉禾", "瑞景", "华府", "名都",
    "御景", "怡园", "盛世", "康乐", "泰和", "雅居", "丽景", "春晓", "秋实", "星辰", "云水", "澜湾",
)
COMPOUND_SUFFIXES = ("小区", "家园", "花园", "苑", "新村", "公寓")

AGENCIES = (
    "税务局", "财政局", "教育局", "卫生健康委员会", "人力资源和社会保障局", "住房和城乡建设局",
    "交通运输局", "市场监督管理局", "生态环境局", "自然资源和规划局", "司法局", "民政局",
    "商务局", "文化和旅游局", "统计局", "审计局", "应急管理局", "水务局", "农业农村局",
    "退役军人事务局", "医疗保障局", "城市管理局", "科学技术局", "工业和信息化局",
)
INSTITUTIONS = (
    "第一人民医院", "第二人民医院", "中医医院", "妇幼保健院", "第一中学", "第三中学", "实验小学",
    "图书馆", "博物馆", "职业技术学院", "疾病预防控制中心", "广播电视台", "公共资源交易中心",
    "档案馆", "青少年宫",
)
COMPANY_WORDS = (
    "星河", "华信", "恒通", "泰山", "齐鲁", "海岱", "瑞丰", "鼎盛", "宏达", "博远", "中科", "联创",
    "金石", "天成", "润泽", "启明",
)
COMPANY_TRADES = ("科技", "物流", "建设", "电子", "食品", "医药", "软件", "能源", "商贸", "环保")

SURNAMES = (
    "王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡", "郭",
    "何", "高", "林", "罗", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹", "彭", "曾",
    "田", "董", "袁", "潘", "于", "蒋", "蔡", "余", "杜", "叶", "程", "苏", "魏", "吕", "丁", "任",
)
GIVEN_MALE = "伟刚勇毅俊峰强军平保东文辉力明永健世广志义兴良海山仁波宁贵福生龙元全国胜学祥才发武新利清飞彬富顺信子杰涛昌成康星光天达安岩中茂进林有坚和彪博诚先敬震振壮会思群豪心邦承乐绍功松善厚庆磊民友裕河哲江超浩亮政谦亨奇固之轮翰朗伯宏言若鸣朋斌梁栋维启克伦翔旭鹏泽晨辰士以建家致树炎德行时泰盛雄琛钧冠策腾楠榕风航弘"
GIVEN_FEMALE = "秀娟英华慧巧美娜静淑惠珠翠雅芝玉萍红娥玲芬芳燕彩春菊兰凤洁梅琳素云莲真环雪荣爱妹霞香月莺媛艳瑞凡佳嘉琼勤珍贞莉桂娣叶璧璐娅琦晶妍茜秋珊莎锦黛青倩婷姣婉娴瑾颖露瑶怡婵雁蓓纨仪荷丹蓉眉君琴蕊薇菁梦岚苑婕馨瑗琰韵融园艺咏卿聪澜纯毓悦昭冰爽琬茗羽希宁欣飘育滢馥筠柔竹霭凝晓欢霄枫芸菲寒伊亚宜可姬舒影荔枝丽阳妮宝贝初程梵罡恒鸿桦骅剑娇纪宽苛灵玛媚琪晴容睿烁堂唯威韦雯苇萱阅彦宇雨洋忠宗曼紫逸贤蝶菡绿蓝儿翠烟"
PHONE_PREFIXES = ("138", "139", "137", "150", "186", "158", "189", "135")

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"


def id_check_digit(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of an ID number."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


@dataclass(frozen=True)
class CitySize:
    """How big a city to generate."""

    districts: int
    subdistricts_per_district: int
    communities_per_subdistrict: int
    grids_per_community: int
    units: int
    members: int


FULL = CitySize(
    districts=2, subdistricts_per_district=3, communities_per_subdistrict=5,
    grids_per_community=11, units=220, members=6000,
)
SMALL = CitySize(
    districts=2, subdistricts_per_district=1, communities_per_subdistrict=2,
    grids_per_community=3, units=8, members=60,
)
SIZES = {"full": FULL, "small": SMALL}


@dataclass(frozen=True)
class District:
    name: str
    region_code: str


@dataclass(frozen=True)
class Subdistrict:
    district: int  # index into City.districts
    name: str


@dataclass(frozen=True)
class Community:
    subdistrict: int
    name: str


@dataclass(frozen=True)
class Grid:
    community: int
    name: str
    branch_name: str


@dataclass(frozen=True)
class Unit:
    name: str
    unit_party_org: str
    kind: str  # agency / institution / enterprise
    community: int  # where the unit is located
    contact_name: str
    contact_phone: str


@dataclass(frozen=True)
class Member:
    name: str
    gender: str  # 男 / 女
    phone: str
    id_number: str
    unit: int
    home_community: int
    home_grid: int
    skills: tuple[str, ...]
    free_slots: tuple[int, ...]  # weekday (0=Mon) * 3 + part (0 morning, 1 afternoon, 2 evening)


@dataclass
class City:
    districts: list[District] = field(default_factory=list)
    subdistricts: list[Subdistrict] = field(default_factory=list)
    communities: list[Community] = field(default_factory=list)
    grids: list[Grid] = field(default_factory=list)
    adjacency: set[tuple[int, int]] = field(default_factory=set)  # both directions present
    units: list[Unit] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)

    def community_path(self, community: int) -> tuple[str, str, str]:
        """(district, subdistrict, community) names of a community."""
        c = self.communities[community]
        s = self.subdistricts[c.subdistrict]
        return self.districts[s.district].name, s.name, c.name


def _link(city: City, a: int, b: int) -> None:
    if a != b:
        city.adjacency.add((a, b))
        city.adjacency.add((b, a))


def _person_name(rng: random.Random, gender: str) -> str:
    pool = GIVEN_MALE if gender == "男" else GIVEN_FEMALE
    given = rng.choice(pool) + (rng.choice(pool) if rng.random() < 0.7 else "")
    return rng.choice(SURNAMES) + given


def _id_number(rng: random.Random, region_code: str, gender: str, seen: set[str]) -> str:
    while True:
        born = date(1965, 1, 1) + timedelta(days=rng.randrange(0, 365 * 36))
        seq = rng.randrange(0, 500) * 2 + (1 if gender == "男" else 0)  # odd 17th digit = male
        first17 = f"{region_code}{born:%Y%m%d}{seq:03d}"
        number = first17 + id_check_digit(first17)
        if number not in seen:
            seen.add(number)
            return number


def _unit_names(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    """(name, party organisation, kind) for `count` distinct units."""
    found: list[tuple[str, str, str]] = []
    for agency in AGENCIES:
        found.append((f"市{agency}", f"市{agency}机关党委", "agency"))
    for district, _ in DISTRICTS[:2]:
        for agency in AGENCIES[:12]:
            found.append((f"{district}{agency}", f"{district}{agency}机关党支部", "agency"))
    for inst in INSTITUTIONS:
        found.append((f"市{inst}", f"市{inst}党委", "institution"))
    for word in COMPANY_WORDS:
        for trade in COMPANY_TRADES:
            name = f"{word}{trade}有限公司"
            found.append((name, f"{name}党支部", "enterprise"))
    rng.shuffle(found)
    if count > len(found):
        raise ValueError(f"at most {len(found)} distinct units, asked for {count}")
    return found[:count]


def generate_city(seed: int = 2024, size: CitySize = FULL) -> City:
    """The whole synthetic city; the same seed and size give the same city."""
    rng = random.Random(seed)
    city = City()
    if size.districts > len(DISTRICTS):
        raise ValueError(f"at most {len(DISTRICTS)} districts")
    sub_words = list(SUBDISTRICT_WORDS)
    rng.shuffle(sub_words)
    for d in range(size.districts):
        name, code = DISTRICTS[d]
        city.districts.append(District(name=name, region_code=code))
        for _ in range(size.subdistricts_per_district):
            city.subdistricts.append(Subdistrict(district=d, name=f"{sub_words.pop()}街道"))
    # Community names are unique city-wide (the schema needs it only per subdistrict), so a
    # roster row naming just its community is never ambiguous in the demo.
    community_words = rng.sample(COMMUNITY_WORDS, len(city.subdistricts) * size.communities_per_subdistrict)
    for s in range(len(city.subdistricts)):
        for _ in range(size.communities_per_subdistrict):
            city.communities.append(Community(subdistrict=s, name=f"{community_words.pop()}社区"))
    first_grid: list[int] = []
    all_compounds = [w + sfx for w in COMPOUND_WORDS for sfx in COMPOUND_SUFFIXES]
    # Grid names are unique within a subdistrict, so a neighbour across a community border is
    # named unambiguously in the hierarchy roster's 相邻网格 column.
    per_subdistrict = size.communities_per_subdistrict * size.grids_per_community
    compounds_of = [rng.sample(all_compounds, per_subdistrict) for _ in city.subdistricts]
    for c in range(len(city.communities)):
        first_grid.append(len(city.grids))
        compounds = compounds_of[city.communities[c].subdistrict]
        for compound in (compounds.pop() for _ in range(size.grids_per_community)):
            city.grids.append(Grid(community=c, name=compound, branch_name=f"{compound}网格党支部"))
        # The grids of a community lie in a ring; a compound also borders the one across it.
        n = size.grids_per_community
        for i in range(n):
            _link(city, first_grid[c] + i, first_grid[c] + (i + 1) % n)
            if n >= 6 and i < n // 2 and rng.random() < 0.3:
                _link(city, first_grid[c] + i, first_grid[c] + i + n // 2)
    # Neighbouring communities of one subdistrict share a border: a few cross-community links.
    for c in range(1, len(city.communities)):
        if city.communities[c].subdistrict == city.communities[c - 1].subdistrict:
            n = size.grids_per_community
            _link(city, first_grid[c - 1] + n // 2, first_grid[c])
            if n > 3:
                _link(city, first_grid[c - 1] + n // 2 + 1, first_grid[c] + n - 1)

    phone_seq = iter(range(10_000_000, 100_000_000, 7919))  # distinct 8-digit tails
    seen_ids: set[str] = set()
    for name, org, kind in _unit_names(rng, size.units):
        gender = rng.choice(("男", "女"))
        city.units.append(
            Unit(
                name=name, unit_party_org=org, kind=kind,
                community=rng.randrange(len(city.communities)),
                contact_name=_person_name(rng, gender),
                contact_phone=f"{rng.choice(PHONE_PREFIXES)}{next(phone_seq)}",
            )
        )
    grids_of: dict[int, list[int]] = {}
    for g, grid in enumerate(city.grids):
        grids_of.setdefault(grid.community, []).append(g)
    for _ in range(size.members):
        gender = "男" if rng.random() < 0.55 else "女"
        home = rng.randrange(len(city.communities))
        district = city.subdistricts[city.communities[home].subdistrict].district
        city.members.append(
            Member(
                name=_person_name(rng, gender),
                gender=gender,
                phone=f"{rng.choice(PHONE_PREFIXES)}{next(phone_seq)}",
                id_number=_id_number(rng, city.districts[district].region_code, gender, seen_ids),
                unit=rng.randrange(len(city.units)),
                home_community=home,
                home_grid=rng.choice(grids_of[home]),
                skills=tuple(rng.sample(SKILLS, rng.randint(1, 3))),
                free_slots=tuple(sorted(rng.sample(range(21), rng.randint(2, 6)))),
            )
        )
    return city
