"""The role policy the gate evaluates is the one the README states (datasette's documented-settings test)."""

from __future__ import annotations

import re
from pathlib import Path

from data_products.governance import policy

README = Path(__file__).resolve().parents[2] / "README.md"


def _documented() -> dict[str, set[str]]:
    rows = re.findall(r"^\s*\| `([a-z_.:]+)` \| ([^|]+) \|\s*$", README.read_text(encoding="utf-8"), re.M)
    return {action: set(re.findall(r"(commission_official|commission_analyst|hospital|company|service)", roles))
            for action, roles in rows}


def test_every_role_action_is_documented_with_its_roles():
    doc = _documented()
    for action, roles in policy.ROLE_ACTIONS.items():
        assert action in doc, f"README: the policy table lacks {action!r}"
        assert doc[action] == set(roles), f"README: {action!r} lists {sorted(doc[action])}, the policy {sorted(roles)}"
    extra = set(doc) - set(policy.ROLE_ACTIONS) - {"scenario.apply"}
    assert not extra, f"README documents actions the policy does not have: {sorted(extra)}"


def test_catalog_level_follows_the_policy_not_a_role_list_of_its_own(demo, signed_in, monkeypatch):
    # The analyst reads the catalog in full; narrow the policy and the gate's answer must follow it.
    from data_products.governance import gate

    analyst = signed_in("analyst")
    assert gate.catalog_detail(analyst) == "full"
    assert gate.catalog_detail(signed_in("company_none")) == "brochure"
    monkeypatch.setitem(policy.ROLE_ACTIONS, "catalog.full", ("commission_official",))
    assert gate.catalog_detail(analyst) == "brochure"


def test_research_apply_and_review_come_from_the_policy(monkeypatch):
    analyst = policy.Actor("x", "commission_analyst", 1, "commission", None)
    company = policy.Actor("c", "company", 2, "company", None)
    assert policy.allowed(analyst, "analysis.review") == (True, "role")
    assert policy.allowed(company, "analysis.review") == (False, "role")
    assert policy.allowed(company, "research.apply") == (True, "role")
    assert policy.allowed(analyst, "research.apply") == (False, "role")
