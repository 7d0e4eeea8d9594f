"""The role policy the gate evaluates is the one the README states (datasette's documented-settings test)."""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

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


def test_research_apply_and_review_come_from_the_policy(demo_copy, signed_in, monkeypatch):
    """Narrow the policy and the analyses service refuses what it allowed: it asks the policy, not a role
    list of its own."""
    from data_products.analyses import service

    company, research, analyst = signed_in("company_none"), signed_in("research_org"), signed_in("analyst")
    scenario = next(s["id"] for s in service.research_scenarios(research) if s["status"] == "active")
    queued = service.submit(research, scenario, "ds_liver_cancer", sql="SELECT count(*) AS n FROM ds_liver_cancer",
                            run_now=False)
    # Allowed by the policy as it stands: the analyst reaches the state check and sees the output's row.
    with pytest.raises(service.AnalysisError, match="not awaiting review"):
        service.review(analyst, queued.id, "release", "looks fine")
    assert service.view(analyst, queued.id).id == queued.id

    monkeypatch.setitem(policy.ROLE_ACTIONS, "analysis.review", ("commission_official",))
    with pytest.raises(service.AnalysisError, match="only commission reviewers review"):
        service.review(analyst, queued.id, "release", "looks fine")
    with pytest.raises(service.AnalysisError, match="not an analysis of your organisation"):
        service.view(analyst, queued.id)

    when = (date.today(), date.today() + timedelta(days=30))
    monkeypatch.setitem(policy.ROLE_ACTIONS, "research.apply", ("hospital",))
    with pytest.raises(service.AnalysisError, match="does not apply for research scenarios"):
        service.apply_research(company, "ds_liver_cancer", "policy probe", *when)
    monkeypatch.setitem(policy.ROLE_ACTIONS, "research.apply", ("company", "hospital"))
    assert service.apply_research(company, "ds_liver_cancer", "policy probe", *when) > 0
