"""The space's one-way pipeline: generate -> ingest -> process -> approve.

``process`` runs each product's builder over the restricted zone and writes a candidate release;
``approve`` re-runs the disclosure checks on that candidate, records who approved which content
(with its lineage) in the governance store, and publishes it to the approved zone atomically.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import partial
from types import SimpleNamespace

import duckdb

from data_products import approved, differencing, disclosure
from data_products.config import min_cell, paths
from data_products.products import registry
from data_products.products.base import Candidate, ProductDefinition
from data_products.restricted.spark import DEFAULT_MASTER

__all__ = ["ApprovalRefused", "Candidate", "approve", "build_demo", "latest_candidate", "process"]

log = logging.getLogger(__name__)


SYNTHETIC_NOTICE = "Synthetic demonstration data: generated, describes no real patient or facility. 合成演示数据。"


class ApprovalRefused(Exception):
    pass


def _module(product_id: str):
    """The product's release module (build, check, count tables, ordering), from its definition; a
    product without one declares no counted tables, so there is nothing to difference."""
    d = _definition(product_id)
    if d.release_module is not None:
        return d.release_module
    return SimpleNamespace(build=d.build, check=d.check, count_tables=lambda tables: {})


def _definition(product_id: str) -> ProductDefinition:
    try:
        return registry.all_products()[product_id]
    except KeyError:
        raise KeyError(f"no product {product_id!r}; known: {sorted(registry.all_products())}") from None


ENGINES = ("duckdb", "spark")


class EngineUnavailable(Exception):
    """The engine asked for cannot build what was asked (no such engine, a product without a builder
    for it, or the engine missing on this machine)."""


def spark_products(products: list[str] | None = None) -> list[str]:
    """The products (of ``products``, default all) whose definition has a Spark builder."""
    return [p for p in products or list(registry.all_products()) if _definition(p).spark is not None]


def process(products: list[str] | None = None,
            progress: Callable[[int, int, int], None] | None = None, *, engine: str = "duckdb",
            master: str | None = None, parquet: str | None = None) -> list[str]:
    """Build candidate releases; returns their ids. ``progress(done, total, rows)`` after each product:
    products built of those asked for, and the restricted records they read.

    ``engine="spark"`` aggregates the products that have a Spark builder on Apache Spark (``master``, default
    ``local[2]``) from the restricted zone's Parquet layout (``parquet``, default the data home's, exported
    from ``restricted.duckdb`` when missing or older); named products without one are refused, and when no
    product is named the others are built on DuckDB. The release is the same whichever engine built it.
    """
    p = paths().ensure()
    if engine not in ENGINES:
        raise EngineUnavailable(f"no engine {engine!r}; known: {', '.join(ENGINES)}")
    selected = products or list(registry.all_products())
    if engine == "duckdb" and not p.restricted_db.exists():
        raise FileNotFoundError(f"{p.restricted_db} does not exist: run `dataspace ingest` first")
    for product_id in selected:
        _definition(product_id)
    on_spark = spark_products(selected) if engine == "spark" else []
    if engine == "spark" and products and len(on_spark) < len(products):
        raise EngineUnavailable(
            f"no Spark builder for {', '.join(sorted(set(products) - set(on_spark)))}: build it with --engine duckdb "
            f"(Spark builds: {', '.join(spark_products()) or 'none'})")
    if set(selected) - set(on_spark) and not p.restricted_db.exists():
        raise FileNotFoundError(f"{p.restricted_db} does not exist: run `dataspace ingest` first")
    sources = _spark_sources(on_spark, master, parquet) if on_spark else {}
    # The store also says how many records each candidate read (its manifests); a Spark build on a
    # cluster may have no local store, and then reports none.
    con = duckdb.connect(str(p.restricted_db), read_only=True) if p.restricted_db.exists() else None
    ids = []
    try:
        # A product that publishes figures of the others' records (PROCESS_LAST) is protected against
        # their new candidates, so it is built after them.
        order = sorted(selected, key=lambda p: bool(getattr(_module(p), "PROCESS_LAST", False)))
        read = 0
        t0 = time.perf_counter()
        for step, product_id in enumerate(order):
            definition = _definition(product_id)
            mod = _module(product_id)
            if product_id in sources:
                build = partial(mod.build, sources[product_id], agg=definition.spark)
            else:
                build = partial(mod.build, con)
            cand: Candidate = _against_published(product_id, mod, build)
            now = datetime.now(UTC)
            cand.meta.update(
                product_id=product_id,
                # Names are the definition's, stored once; the release carries them for its downloads.
                title_zh=definition.name_zh,
                title_en=definition.name_en,
                built_at=now.isoformat(timespec="seconds"),
                min_cell=min_cell(),
                synthetic=(p.home / "DEMO").exists(),
                notice=SYNTHETIC_NOTICE if (p.home / "DEMO").exists() else "",
            )
            # The engine is deliberately not in the metadata: the release is the same either way, and so is
            # its content hash. The log says which engine built it.
            digest = approved.content_hash(cand.tables, cand.meta)
            release_id = f"{product_id}@{now.strftime('%Y%m%dT%H%M%S')}-{digest[:8]}"
            cand.meta["release_id"] = release_id
            approved.write_release_file(approved.candidate_path(release_id), cand.tables, cand.meta)
            ids.append(release_id)
            read += _records_read(con, cand.meta) if con is not None else 0
            log.info("built %s (%d of %d) on %s in %.1f s", release_id, step + 1, len(order),
                     f"Spark ({master or DEFAULT_MASTER})" if product_id in sources else "DuckDB", time.perf_counter() - t0)
            if progress:
                progress(step + 1, len(order), read)
    finally:
        if con is not None:
            con.close()
    return ids


def _spark_sources(products: list[str], master: str | None, parquet: str | None) -> dict:
    """Each product's Spark input (the histograms or the source its Spark builder reads), counted once."""
    from data_products.restricted import parquet as layout
    from data_products.restricted import spark

    try:
        session = spark.session(master or spark.DEFAULT_MASTER)
    except spark.SparkUnavailable as exc:
        raise EngineUnavailable(f"Spark is not available here: {exc}") from None
    from pyspark.errors import AnalysisException

    root = parquet or str(layout.ensure([_definition(p).spark.TABLE for p in products]))
    src = spark.SparkSource(session, root)
    try:
        return {product_id: _definition(product_id).spark.source(src) for product_id in products}
    except AnalysisException as exc:
        raise EngineUnavailable(f"Spark cannot read the restricted zone's Parquet layout at {root}: "
                                f"{str(exc).splitlines()[0]}") from None
    except spark.SparkBuildError as exc:
        raise EngineUnavailable(str(exc)) from None


def _records_read(con, meta: dict) -> int:
    """Restricted records behind a candidate: the rows of the transfers its lineage names."""
    transfers = [t for t in (meta.get("lineage") or []) if isinstance(t, str)]
    if not transfers:
        return 0
    rows = con.execute("SELECT coalesce(sum(rows_accepted), 0) FROM manifests WHERE list_contains(?, transfer_id)",
                       [transfers]).fetchall()
    return int(rows[0][0])


def _published_counts(product_id: str, mod) -> list[tuple[str, list]]:
    return [(rid, mod.count_tables(tables)) for rid, tables in approved.published(product_id)]


def _against_published(product_id: str, mod, build: Callable[[], Candidate]) -> Candidate:
    """Build a candidate that shows no small change against the releases already published.

    See :mod:`data_products.differencing`: an update that changes no released count by ``min_cell``
    or more is held (the current figures are republished unchanged); otherwise the counts that changed
    by 1 to ``min_cell``-1 are hidden and the product rebuilt, until none is left.
    """
    cand: Candidate = build()
    published = _published_counts(product_id, mod)
    if not published:
        return cand
    k = min_cell()
    live_id = approved.current_release_id(product_id)
    hide: differencing.Keys = {}
    for _ in range(5):
        small: differencing.Keys = {}
        large = False
        for rid, tables in published:
            c = differencing.compare(tables, mod.count_tables(cand.tables), k)
            small = differencing.merge(small, c.small)
            large |= c.large and rid == live_id
        if differencing.empty(small):
            return cand
        if not large:
            live = approved.current(product_id)
            meta = {key: v for key, v in live.meta.items() if key not in approved.VOLATILE_META}
            meta["held_from"] = live_id
            # A current release that today's rules would refuse is not republished: protect anew.
            if not mod.check(live.tables, {**meta, "min_cell": k}):
                log.info("%s: no released count changed by %d or more since %s; its figures are held",
                         product_id, k, live_id)
                return Candidate(product_id, {name: frame.copy() for name, frame in live.tables.items()}, meta)
        hide = differencing.merge(hide, small)
        with disclosure.hide_also(hide):
            cand = build()
    raise RuntimeError(f"{product_id}: small changes against earlier releases remain after hiding them")


def latest_candidate(product_id: str) -> str:
    files = sorted((paths().candidates / product_id).glob("*.duckdb"))
    if not files:
        raise FileNotFoundError(f"no candidate release of {product_id}: run `dataspace process` first")
    return files[-1].stem


def approve(release_id: str, approver, *, os_user: str | None = None) -> dict:
    """One commission official's approval of a candidate: re-check, sign off, and on the second
    different official's sign-off publish. ``approver`` is a signed-in ``Principal`` (the command
    line signs its user in first). Raises ApprovalRefused with every reason when it must not count.

    Crash safety: the release file is staged (immutable, not current) before the approval is
    recorded; the record is the commit point; the pointer switch after it is finished by
    ``reconcile`` if the process dies first. So a crash leaves the approval recorded and published,
    or neither."""
    from data_products.governance import ledger, releases, two_person

    if release_id.startswith("latest:"):
        release_id = latest_candidate(release_id.removeprefix("latest:"))
    path = approved.candidate_path(release_id)
    if not path.exists():
        raise FileNotFoundError(f"no candidate release {release_id!r} at {path}")
    try:
        by = releases.official(approver)
    except releases.ReleaseError as exc:
        raise ApprovalRefused(str(exc)) from None
    with approved.publish_lock():
        _reconcile()
        tables, meta = approved.read_release_file(path)
        product_id = meta["product_id"]

        # --- checks: every reason this candidate must not be published ---------------------------
        mod = _module(product_id)
        # Against every release published before: no released count may change by 1..min_cell-1.
        problems = differencing.problems(_published_counts(product_id, mod), mod.count_tables(tables),
                                         max(meta.get("min_cell") or 0, min_cell()))
        problems += mod.check(tables, meta)
        if meta.get("min_cell", 0) < min_cell():
            problems.append(f"built with min_cell={meta.get('min_cell')} below the configured {min_cell()}")
        if problems:
            ledger.record(by, "release.refused", release_id, {"problems": problems[:20], "count": len(problems),
                                                               "os_user": os_user})
            raise ApprovalRefused("; ".join(problems[:10]) + (f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""))

        # --- sign-off; the second different official's publishes ----------------------------------
        digest = approved.content_hash(tables, meta)
        done = releases.approval_of(release_id, product_id)
        if done is not None:
            if done.content_hash != digest:
                raise ApprovalRefused(f"release {release_id} was approved with content {done.content_hash}; "
                                      f"its candidate file now holds {digest}")
            return {**_approval_doc(done, meta), "status": "published"}
        earlier = [s.username for s in releases.signoffs(release_id, product_id)]
        final = two_person.complete([*earlier, by])
        if final:
            approved.stage(release_id)
            approved.checkpoint("staged")
        try:
            result = releases.sign_off(approver, release_id, product_id, digest, meta.get("lineage", []),
                                       os_user=os_user, may_complete=final,
                                       before_commit=lambda: approved.checkpoint("recording"))
        except releases.ReleaseError as exc:
            raise ApprovalRefused(str(exc)) from None
        approved.checkpoint("recorded")
        if result.approval is None:
            return {"release_id": release_id, "product_id": product_id, "content_hash": digest,
                    "status": "awaiting_second_approval", "signed_by": [s.username for s in result.signoffs],
                    "needs": two_person.REQUIRED}
        doc = _approval_doc(result.approval, meta)
        _activate(doc)
        return {**doc, "status": "published"}


def _approval_doc(a, meta: dict) -> dict:
    """What a published release says about its approval, ledger head included (public metadata)."""
    from data_products.governance import releases

    return {
        "release_id": a.release_id,
        "product_id": a.product_id,
        "content_hash": a.content_hash,
        "approved_by": a.approved_by,
        "approvers": a.approvers,
        "signoffs": [{"username": s.username, "at": s.at.isoformat(timespec="seconds")}
                     for s in releases.signoffs(a.release_id, a.product_id)],
        "approved_at": a.approved_at.isoformat(timespec="seconds"),
        "lineage": a.lineage,
        "min_cell": meta.get("min_cell"),
        "built_at": meta.get("built_at"),
        "ledger_head": {"seq": a.audit_seq, "hash": a.audit_hash},
    }


def _activate(doc: dict) -> None:
    from data_products.governance import ledger

    head = ledger.Anchor(doc["ledger_head"]["seq"], doc["ledger_head"]["hash"])
    approved.activate(doc["release_id"], doc,
                      after_metadata=lambda: ledger.publish_head("release.approve", at=head,
                                                                 release_id=doc["release_id"]))


def reconcile() -> list[str]:
    """Finish what a crash interrupted: remove partial files in the approved zone, and make each
    product's newest recorded approval current. Returns the release ids it switched."""
    with approved.publish_lock():
        return _reconcile()


def _reconcile() -> list[str]:
    from data_products.governance import ledger, releases

    approved.remove_partial_files()
    switched = []
    for product_id in registry.all_products():
        latest = releases.approvals(product_id)
        if not latest:
            continue
        a = releases.approval_of(latest[0].release_id, product_id)
        if approved.current_release_id(product_id) == a.release_id:
            continue
        if not approved.approved_path(a.release_id).exists():
            # Recorded only after staging, so only a hand-deleted file gets here; the candidate may remain.
            if not approved.candidate_path(a.release_id).exists():
                raise RuntimeError(f"release {a.release_id} is approved but neither its approved nor its candidate "
                                   "file exists")
            approved.stage(a.release_id)
        tables, meta = approved.read_release_file(approved.approved_path(a.release_id))
        if approved.content_hash(tables, meta) != a.content_hash:
            raise RuntimeError(f"{approved.approved_path(a.release_id)} does not hold the approved content "
                               f"{a.content_hash}; refusing to publish it")
        _activate(_approval_doc(a, meta))
        ledger.record("system", "release.reconcile", product_id,
                      {"release_id": a.release_id, "reason": "approval recorded, publish unfinished"})
        switched.append(a.release_id)
    return switched


def approve_demo(release_id: str) -> dict:
    """Approve a release as the demo's two commission officials (demo spaces only)."""
    from data_products.config import demo_mode
    from data_products.governance import demo_passwords, sign_in, sign_out

    if not demo_mode():
        raise ApprovalRefused("approve_demo: only in a demo space (built with --demo)")
    record: dict = {}
    for name in DEMO_OFFICIALS:
        result = sign_in(name, demo_passwords()[name], client="pipeline:demo")
        if not result.ok:
            raise ApprovalRefused(f"demo official {name} cannot sign in: {result.reason}")
        try:
            record = approve(release_id, result.principal)
        finally:
            sign_out(result.principal)
    return record


DEMO_OFFICIALS = ("official", "official2")


def build_demo(seed: int = 2024, scale: str = "demo", log: Callable[[str], None] = log.info) -> list[dict]:
    from data_products.governance import seed_demo
    from data_products.hospital import generate
    from data_products.restricted import ingest

    p = paths().ensure()
    (p.home / "DEMO").write_text("synthetic demonstration space\n", encoding="utf-8")
    log(f"generate (seed {seed}, {scale}) -> {p.hospitals}")
    generate(p, seed=seed, scale=scale)
    log(f"ingest -> {p.restricted_db}")
    report = ingest(p)
    if getattr(report, "rejected", None):
        raise RuntimeError(f"demo extracts rejected: {report}")
    seed_demo()
    from data_products.analyses import demo as analyses_demo

    analyses_demo.seed()
    records = []
    for release_id in process():
        log(f"approve {release_id} ({' + '.join(DEMO_OFFICIALS)})")
        records.append(approve_demo(release_id))
    return records
