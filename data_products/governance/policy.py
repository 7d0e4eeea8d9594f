"""Who may do what: the policy the gate evaluates, and the products it is evaluated over.

Governance sits below the products, so it does not import their definitions: it reads the product
directory the registry declares (``PRODUCT_DIRECTORY``, looked up by name on use, as an entry point is)
and sees each product's id, names and access policy through the small ``ProductPolicy`` shape, never
anything else about a product.

``allowed(actor, action, resource)`` answers every question that is not about a scenario (who approves
releases, who decides scenarios, who opens the governance pages, who applies for what, who sees facility
names in the catalog), from the role and organisation type the governance store holds now. The gate's
``evaluate`` answers the scenario questions (view, download, export) and calls this for the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from data_products.declared import read_declaration

# What a scenario can cover. "export" is for service principals feeding systems outside the space.
ACTIONS = ("view", "download", "export")
# Organisation types and their roles; a service principal is an organisation of its own.
ORG_TYPES = ("commission", "hospital", "company", "service")


class ProductPolicy(Protocol):
    """What governance knows of a product (``products.base.ProductDefinition`` has all of it)."""

    @property
    def id(self) -> str: ...
    @property
    def name_zh(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def standing(self) -> tuple[str, ...]: ...
    @property
    def applicable_by(self) -> tuple[str, ...]: ...
    @property
    def facility_level(self) -> bool: ...
    @property
    def producer_facility(self) -> str | None: ...


# Where the product directory is declared: a function returning product id -> policy, read on every use
# (so a test that adds a product to the registry is seen at once). Nothing registers it at import.
PRODUCT_DIRECTORY = ("data_products.products.registry", "all_products")


def products() -> Mapping[str, ProductPolicy]:
    return read_declaration(*PRODUCT_DIRECTORY)()


def standing_products(org_type: str, facility_id: str | None) -> list[str]:
    """Products an organisation holds a standing scenario for, by type (or as their producing hospital)."""
    return [p.id for p in products().values()
            if org_type in p.standing or (org_type == "hospital" and facility_id and p.producer_facility == facility_id)]


@dataclass(frozen=True)
class Actor:
    """Who acts, as the governance store says now (never a session's copy)."""

    username: str
    role: str
    org_id: int | None
    org_type: str | None
    facility_id: str | None


# Role policy: action -> roles allowed, for actions that need no scenario. The resource narrows some.
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    "release.approve": ("commission_official",),
    # Building candidate releases from the restricted zone (`dataspace process`): the commission's staff.
    "pipeline.process": ("commission_official", "commission_analyst"),
    "scenario.decide": ("commission_official",),
    # Adding, disabling and resetting accounts, and other users' command-line tokens (a user manages their
    # own tokens, signed in with their password).
    "users.manage": ("commission_official",),
    "area.open:scenarios": ("commission_official", "commission_analyst"),
    "area.open:audit": ("commission_official", "commission_analyst"),
    "area.open:my_hospital": ("hospital",),
    "area.open:analyses": ("company", "hospital"),
    "area.open:analysis_review": ("commission_official", "commission_analyst"),
    "catalog.facility_names": ("commission_official", "commission_analyst"),
    # The catalog in full (record totals, contributing facilities, approvals, sale status); everyone else
    # reads the brochure a prospective applicant needs.
    "catalog.full": ("commission_official", "commission_analyst"),
    # Analyses inside the space: who applies for a research scenario on a dataset, and who reviews outputs
    # (two different reviewers, neither the requester, release one: see analyses.service).
    "research.apply": ("company", "hospital"),
    "analysis.review": ("commission_official", "commission_analyst"),
}


def actor_of(row: Mapping) -> Actor:
    """The actor a live session's row (or a user row joined with its organisation) describes."""
    return Actor(row["username"], row["role"], row["org_id"], row["org_type"], row["facility_id"])


def allowed(actor: Actor | None, action: str, resource: str | None = None) -> tuple[bool, str]:
    """The role part of the policy: (allowed, reason). ``resource`` is a product id for ``scenario.apply``,
    an area name for ``area.open``. Scenario-backed actions (view/download/export) are the gate's."""
    if actor is None:
        return False, "no_actor"
    if action == "scenario.apply":
        product = products().get(resource or "")
        if product is None:
            return False, "unknown_product"
        if actor.role not in ("hospital", "company"):
            return False, "role"
        if actor.org_type not in product.applicable_by:
            return False, "not_eligible"
        if product.id in standing_products(actor.org_type or "", actor.facility_id):
            return False, "standing"
        return True, "applicable"
    key = f"{action}:{resource}" if action == "area.open" else action
    roles = ROLE_ACTIONS.get(key)
    if roles is None:
        return False, "unknown_action"
    return (True, "role") if actor.role in roles else (False, "role")
