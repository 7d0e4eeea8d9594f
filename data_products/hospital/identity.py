"""Fake direct identifiers, written the way a Guangzhou hospital's HIS exports them.

Every kind of extract carries the same identified columns (name, resident ID number, mobile,
street address), so they are made here once. All functions are vectorised over numpy arrays and
draw only from the ``rng`` they are given, so a kind stays deterministic from its seed.

Resident ID numbers follow GB 11643-1999: 6-digit region code, 8-digit birth date, 3-digit
sequence (odd for men, even for women) and a check digit (ISO 7064 MOD 11-2).
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd

from data_products.contracts.person import ID_CHECK, ID_WEIGHTS
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



def _digits(values: np.ndarray, width: int) -> np.ndarray:
    """(n, width) decimal digits of non-negative integers, most significant first (zero-padded)."""
    rest = np.asarray(values, dtype=np.int64)
    out = np.empty((width, len(rest)), dtype=np.int64)  # one contiguous row per digit position
    for k in range(width - 1, -1, -1):
        quotient = rest // 10  # a scalar divisor: numpy's fast integer division
        out[k] = rest - quotient * 10
        rest = quotient
    return out.T


def _decimal(values: np.ndarray, width: int) -> np.ndarray:
    """Integers of exactly ``width`` digits as text, without a Python object per value."""
    return (_digits(values, width) + 48).astype(np.uint8, order="C").view(f"S{width}").ravel()


def names(rng: np.random.Generator, n: int) -> np.ndarray:
    sur = rng.choice(list(_SURNAMES), size=n, p=_SURNAME_WEIGHTS / _SURNAME_WEIGHTS.sum())
    given = np.array(list(_GIVEN))
    g1 = rng.choice(given, size=n)
    g2 = rng.choice(given, size=n)
    two = rng.random(n) < 0.78
    return np.char.add(np.char.add(sur, g1), np.where(two, g2, ""))


def mobiles(rng: np.random.Generator, n: int, as_bytes: bool = False) -> np.ndarray:
    prefix = rng.choice(_MOBILE_PREFIXES, size=n).astype(np.int64)
    rest = rng.integers(0, 100_000_000, size=n, dtype=np.int64)
    out = _decimal(prefix * 100_000_000 + rest, 11)
    return out if as_bytes else out.astype(str)


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
    the next free sequence of the same parity (sex stays right), in the order the people were
    drawn. Remembered as a sorted integer array: bounded memory (8 bytes a person) while a run
    streams. Vectorised: only the few people whose first number is taken are settled one by one.
    """

    def __init__(self) -> None:
        self._used = np.empty(0, dtype=np.int64)

    def issue(self, rng: np.random.Generator, birth: pd.Series, sex_male: np.ndarray,
              home_adcodes: np.ndarray, local_share: float = 0.55, as_bytes: bool = False) -> np.ndarray:
        """ID numbers as text (or, with ``as_bytes``, as fixed-width ASCII bytes)."""
        n = len(birth)
        local = rng.random(n) < local_share
        region = np.where(local, home_adcodes.astype(np.int64), rng.choice(_OTHER_REGIONS, size=n))
        ymd = (birth.dt.year * 10000 + birth.dt.month * 100 + birth.dt.day).to_numpy(dtype=np.int64)
        seq = rng.integers(0, 500, size=n, dtype=np.int64) * 2 + np.where(sex_male, 1, 0)
        body = region * 10**11 + ymd * 1000
        out = self._settle(body, seq)
        digits = _digits(out, 17)
        check = np.frombuffer(ID_CHECK.encode("ascii"), dtype=np.uint8)[(digits * ID_WEIGHTS).sum(axis=1) % 11]
        out = np.concatenate([digits + 48, check[:, None]], axis=1).astype(np.uint8, order="C").view("S18").ravel()
        return out if as_bytes else out.astype(str)

    def _settle(self, body: np.ndarray, seq: np.ndarray) -> np.ndarray:
        """Each person's first free number body + s, s = seq, seq + 2, ... (mod 1000), taking the
        people in order: exactly what a loop over them would give."""
        cand = body + seq
        out = cand.copy()
        pos = np.searchsorted(self._used, cand)
        in_used = self._used[np.minimum(pos, max(len(self._used) - 1, 0))] == cand if len(self._used) else \
            np.zeros(len(cand), dtype=bool)
        # Repeats within the batch (rare): all but the first of each are settled below.
        ordered = np.sort(cand)
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        first = np.ones(len(cand), dtype=bool)
        if repeated.size:
            among = np.flatnonzero(np.isin(cand, repeated))
            _, lead = np.unique(cand[among], return_index=True)
            first[among] = False
            first[among[lead]] = True
        dirty = np.flatnonzero(in_used | ~first)
        if dirty.size:
            clean = np.flatnonzero(~in_used & first)
            order = np.argsort(cand[clean])
            clean_values, clean_index = cand[clean][order], clean[order]
            used = self._used
            moved: dict[int, int] = {}   # number -> the person who holds it, once settled here
            lost: set[int] = set()       # people whose first number went to someone drawn earlier

            def holder(v: int) -> int | None:
                if v in moved:
                    return moved[v]
                k = int(np.searchsorted(clean_values, v))
                if k < len(clean_values) and clean_values[k] == v and int(clean_index[k]) not in lost:
                    return int(clean_index[k])
                return None

            def taken_before(v: int) -> bool:
                k = int(np.searchsorted(used, v))
                return k < len(used) and used[k] == v

            queue = dirty.tolist()
            heapq.heapify(queue)
            while queue:
                i = heapq.heappop(queue)
                b, s = int(body[i]), int(seq[i])
                while True:
                    v = b + s
                    h = holder(v)
                    if not taken_before(v) and (h is None or h >= i):
                        break
                    s = (s + 2) % 1000
                if h is not None and h > i:
                    lost.add(h)
                    heapq.heappush(queue, h)  # it drew this number later: it moves on instead
                moved[v] = i
                out[i] = v
        self._used = np.sort(np.concatenate([self._used, out]))
        return out
