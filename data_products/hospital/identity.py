"""Fake direct identifiers, written the way a Guangzhou hospital's HIS exports them.

Every kind of extract carries the same identified columns (name, resident ID number, mobile,
street address), so they are made here once. All functions are vectorised over numpy arrays and
draw only from the ``rng`` they are given, so a kind stays deterministic from its seed.

Resident ID numbers follow GB 11643-1999: 6-digit region code, 8-digit birth date, 3-digit
sequence (odd for men, even for women) and a check digit (ISO 7064 MOD 11-2).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from data_products.contracts.person import gb11643_check_digit
from data_products.reference import districts

# Surnames weighted toward Guangdong's commonest (陈, 李, 黄, 梁, 林 lead in the province).
_SURNAMES = (
    "陈李黄张梁刘林王吴何罗郑杨周谢邓冯曾许钟叶蔡彭朱卢苏潘赵胡郭马肖徐余孙高袁何邱温赖江廖方欧杜"
    "曹龙莫戴丁严覃韦谭区麦伍骆简关"
)
_SURNAME_WEIGHTS = np.linspace(3.0, 0.3, len(_SURNAMES))
_GIVEN = (
    "子梓浩宇轩涵欣怡睿晨嘉俊诗雨博文思一可佳若亦明乐安泽昊铭彤妍琪萱烨熙瑶悦辰宸然逸航皓煜钰晴语"
    "诺依恩沐芷芊乔景霖锦星天志伟杰婷颖慧敏家豪淇朗希妤柏楷彦君"
)
_MOBILE_PREFIXES = np.array(
    [130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158, 159,
     166, 173, 175, 176, 177, 178, 180, 181, 182, 183, 185, 186, 187, 188, 189, 191, 198, 199]
)
# Fictional street stems; none contains 区, so a district name found in an address is the district.
_STREETS = (
    "同和 江南 中山 新港 广园 黄石 机场 滨江 工业 石井 太和 沙太 解放 东风 人民 环市 新市 大石 市桥 洛溪 "
    "南村 新塘 荔城 石滩 街口 温泉 狮岭 新华 花城 金沙 黄阁 横沥 云城 开发 科学 鱼珠 员村 棠下 车陂 龙洞 "
    "岑村 花地 龙津 昌岗 赤岗 琶洲 流花 宝岗 凤凰 云景 嘉禾 永泰 钟村 大岗 榄核 鳌头 江埔 仙村 永和"
).split()
_STREET_SUFFIX = ("路", "大道", "街", "大街", "北路", "南路")
# Region codes of children whose household registration (户籍) is outside Guangzhou: about half of
# the city's residents are registered elsewhere, mostly elsewhere in Guangdong and neighbouring provinces.
_OTHER_REGIONS = np.array(
    [440303, 440604, 440606, 441302, 441900, 442000, 445102, 445202, 445281, 440511, 440804, 441202,
     441402, 441502, 441602, 441702, 441802, 445302, 430104, 430421, 431002, 431102, 450103, 450305,
     450802, 451002, 360702, 360730, 420106, 421002, 410105, 411302, 510104, 511302, 350102, 352201,
     460105, 530102, 522601, 340102]
)



def names(rng: np.random.Generator, n: int) -> np.ndarray:
    sur = rng.choice(list(_SURNAMES), size=n, p=_SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum())
    given = np.array(list(_GIVEN))
    g1 = rng.choice(given, size=n)
    g2 = rng.choice(given, size=n)
    two = rng.random(n) < 0.78
    return np.char.add(np.char.add(sur, g1), np.where(two, g2, ""))


def mobiles(rng: np.random.Generator, n: int) -> np.ndarray:
    prefix = rng.choice(_MOBILE_PREFIXES, size=n).astype(np.int64)
    rest = rng.integers(0, 100_000_000, size=n, dtype=np.int64)
    return (prefix * 100_000_000 + rest).astype(str)


def addresses(rng: np.random.Generator, district_adcodes: np.ndarray) -> np.ndarray:
    """'广州市白云区同和路12号3栋502房' with the district's Chinese name, street, number, flat."""
    zh = districts().set_index("adcode")["name_zh"]
    n = len(district_adcodes)
    dist = zh.reindex(district_adcodes).to_numpy(dtype=str)
    street = np.char.add(rng.choice(_STREETS, size=n), rng.choice(_STREET_SUFFIX, size=n))
    number = rng.integers(1, 400, size=n).astype(str)
    flat = np.char.add(
        np.char.add(rng.integers(1, 30, size=n).astype(str), "栋"),
        np.char.add((rng.integers(1, 33, size=n) * 100 + rng.integers(1, 9, size=n)).astype(str), "房"),
    )
    flat = np.where(rng.random(n) < 0.8, flat, "")
    out = np.char.add(np.char.add("广州市", dist), street)
    return np.char.add(np.char.add(np.char.add(out, number), "号"), flat)


class IdAllocator:
    """Issues resident ID numbers that are unique over one whole generation run.

    The 3-digit sequence leaves ~500 numbers per region, day and sex, so collisions are moved to
    the next free sequence of the same parity (sex stays right). Remembered as integers: bounded
    memory (a few MB per 100k people) while a run streams.
    """

    def __init__(self) -> None:
        self._used: set[int] = set()

    def issue(self, rng: np.random.Generator, birth: pd.Series, sex_male: np.ndarray,
              home_adcodes: np.ndarray, local_share: float = 0.55) -> np.ndarray:
        n = len(birth)
        local = rng.random(n) < local_share
        region = np.where(local, home_adcodes.astype(np.int64), rng.choice(_OTHER_REGIONS, size=n))
        ymd = (birth.dt.year * 10000 + birth.dt.month * 100 + birth.dt.day).to_numpy(dtype=np.int64)
        seq = rng.integers(0, 500, size=n, dtype=np.int64) * 2 + np.where(sex_male, 1, 0)
        body = region * 10**11 + ymd * 1000
        out = np.empty(n, dtype=np.int64)
        for i in range(n):
            s = int(seq[i])
            while int(body[i]) + s in self._used:
                s = (s + 2) % 1000
            out[i] = int(body[i]) + s
            self._used.add(int(out[i]))
        first17 = out.astype(str)
        digits = np.frombuffer("".join(first17).encode("ascii"), dtype=np.uint8).reshape(-1, 17) - 48
        return np.char.add(first17, gb11643_check_digit(digits))
