"""Governance: users, organisations, usage scenarios, orders, the access gate and the audit ledger.

Pages never decide access: they ask the gate for a grant (``gate.open_product``) and hand it to the
product's view functions; downloads and exports go through ``gate.deliver`` and ``gate.export``.
"""

from data_products.governance.accounts import (
    ROLES,
    AccountError,
    Principal,
    SignInResult,
    add_org,
    add_user,
    current,
    resume,
    set_disabled,
    set_password,
    sign_in,
    sign_out,
    users,
)
from data_products.governance.demo import demo_accounts, demo_passwords, seed_demo
from data_products.governance.gate import (
    AccessDenied,
    Decision,
    Grant,
    GrantError,
    RowScope,
    allowed,
    decide,
    governance_role,
    record_download,
    require,
    visible_products,
)
from data_products.governance.ledger import Entry, VerifyResult, entries, verify
from data_products.governance.releases import ReleaseApproval, approvals, record_approval
from data_products.governance.scenarios import (
    Order,
    Scenario,
    ScenarioError,
    apply,
    approve,
    cancel_order,
    ensure_standing,
    order,
    orders,
    pending,
    reject,
    revoke,
    withdraw,
)
from data_products.governance.scenarios import scenarios as list_scenarios
from data_products.governance.store import GovernanceStore, Policy, get_store

__all__ = [
    "ROLES", "AccessDenied", "AccountError", "Decision", "Entry", "Grant", "GrantError", "allowed", "GovernanceStore", "Order", "Policy", "Principal",
    "ReleaseApproval", "RowScope", "Scenario", "ScenarioError", "SignInResult", "VerifyResult", "add_org",
    "add_user", "apply", "approvals", "approve", "cancel_order", "current", "decide", "governance_role", "demo_accounts",
    "demo_passwords", "ensure_standing", "entries", "get_store", "order", "orders", "pending", "record_approval",
    "record_download", "reject", "require", "resume", "revoke", "list_scenarios", "seed_demo", "set_disabled", "set_password",
    "sign_in", "sign_out", "users", "verify", "visible_products", "withdraw",
]
