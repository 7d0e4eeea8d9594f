"""One command line for the space: `dataspace COMMAND`.

Each command imports its zone's code only when it runs, so `dataspace --help` is instant and a
command never loads more of the space than it needs.
"""

from __future__ import annotations

import logging
import os
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from data_products.config import paths

app = typer.Typer(
    name="dataspace",
    help="Guangzhou health trusted data space: generate, ingest, process, approve, serve, verify, bench.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
users_app = typer.Typer(help="Accounts of a real deployment.", no_args_is_help=True)
audit_app = typer.Typer(help="The audit ledger: hash chain, keyed MACs, published heads.", no_args_is_help=True)
export_app = typer.Typer(help="Feeds for systems outside the space.", no_args_is_help=True)
app.add_typer(users_app, name="users")
app.add_typer(audit_app, name="audit")
governance_app = typer.Typer(help="The governance store itself (SQLite, or PostgreSQL via DATASPACE_GOVERNANCE_URL).",
                             no_args_is_help=True)
app.add_typer(governance_app, name="governance")
app.add_typer(export_app, name="export")

# The ASGI entry: Streamlit serving dashboards/app.py behind the download gate (dashboards/downloads.py).
DASHBOARD = Path(__file__).resolve().parents[1] / "dashboards" / "server.py"


@app.callback()
def _logging(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress to stderr.")] = False) -> None:
    """The package logs; the command line shows warnings (and progress with --verbose) on stderr."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")


def _exit(code: int) -> None:
    if code:
        raise typer.Exit(code)


PROGRESS_HELP = "Progress bar with rows/s and time left on stderr (default: only when stderr is a terminal)."


@contextmanager
def _progress(show: bool | None, description: str):
    """A rich progress bar on stderr, or nothing. Yields ``update(done, total, rows)`` (or None):
    ``done``/``total`` in the work's own unit (rows, bytes) drive the bar and the time left, ``rows``
    the rows/s figure."""
    if show is None:
        show = sys.stderr.isatty()
    if not show:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, ProgressColumn, TaskProgressColumn, TextColumn, TimeRemainingColumn
    from rich.text import Text

    class Rate(ProgressColumn):
        def render(self, task) -> Text:
            rows = task.fields.get("rows", 0)
            elapsed = task.elapsed or 0.0
            rate = f"{rows / elapsed:,.0f} rows/s" if elapsed > 0 and rows else "- rows/s"
            return Text(f"{rows:,} rows  {rate}")

    bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), Rate(), TextColumn("left"),
                   TimeRemainingColumn(), console=Console(stderr=True), transient=False)
    task = bar.add_task(description, total=None, rows=0)

    def update(done: int, total: int, rows: int) -> None:
        bar.update(task, completed=done, total=total, rows=rows)

    with bar:
        yield update


@app.command()
def generate(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed gives byte-identical extracts.")] = 2024,
    scale: Annotated[str, typer.Option(help="demo (small, seconds) or city (the city's volume).")] = "demo",
    kind: Annotated[list[str] | None, typer.Option(help="Only these kinds (repeatable).")] = None,
    rows: Annotated[int | None, typer.Option(min=1, help="Rows per kind, any number (overrides --scale); "
                                                          "e.g. --kind visits --rows 2000000.")] = None,
    chunk_rows: Annotated[int, typer.Option(min=1, help="Rows held in memory before writing (the extracts' bytes "
                                                         "do not depend on it).")] = 500_000,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help=PROGRESS_HELP)] = None,
) -> None:
    """Write synthetic identified extracts into the hospital domain (one folder per facility)."""
    from data_products.hospital import KINDS
    from data_products.hospital import generate as run
    from data_products.hospital.kinds import SCALES

    if scale not in SCALES:
        raise typer.BadParameter(f"{scale!r} is not one of {', '.join(SCALES)}", param_hint="--scale")
    unknown = sorted(set(kind or ()) - set(KINDS))
    if unknown:
        raise typer.BadParameter(f"unknown kind {', '.join(unknown)}; known: {', '.join(sorted(KINDS))}",
                                 param_hint="--kind")
    with _progress(progress, "generate") as bar:
        report = run(paths(), seed=seed, scale=scale, kinds=kind or None, rows=rows, chunk_rows=chunk_rows,
                     progress=(lambda name, done, total: bar(done, total, done)) if bar else None)
    typer.echo(report.summary())


@app.command()
def ingest(
    replace: Annotated[bool, typer.Option("--replace", help="Accept a re-export that holds fewer rows than the "
                                                            "transfer it replaces (refused without it).")] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help=PROGRESS_HELP)] = None,
) -> None:
    """Validate and de-identify the hospitals' extracts into the restricted zone (hospital -> restricted).

    Each file is accepted or rejected on its own: one bad extract never holds back the others."""
    from data_products.restricted import ingest as run

    with _progress(progress, "ingest") as bar:
        report = run(paths(), replace=replace, progress=bar)
    typer.echo(report.summary())
    _exit(report.exit_code)


PROCESSOR = ("The commission user running the build, who signs in: $DATASPACE_TOKEN, else the password from "
             "$DATASPACE_PASSWORD or a prompt (default user: $DATASPACE_USER).")


@app.command()
def process(
    product: Annotated[list[str] | None, typer.Option(help="Only these products (repeatable).")] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help=PROGRESS_HELP)] = None,
    engine: Annotated[str, typer.Option(help="duckdb (default), or spark: wait_times and pneumonia_atlas "
                                             "aggregate on Apache Spark; named products without a Spark builder "
                                             "are refused, unnamed ones build on DuckDB.")] = "duckdb",
    master: Annotated[str | None, typer.Option(help="Spark master URL: local[N] (default local[2]), "
                                                    "spark://HOST:7077, yarn, k8s://https://HOST:443.")] = None,
    parquet: Annotated[str | None, typer.Option(help="The restricted zone's Parquet layout Spark reads (a path "
                                                     "every executor can read); default DATA_HOME/restricted/parquet, "
                                                     "exported from restricted.duckdb when missing or older.")] = None,
    acting: Annotated[str | None, typer.Option("--as", help=PROCESSOR)] = None,
) -> None:
    """Run product builders over the restricted zone into candidate releases (restricted -> candidate).
    The acting commission user proves who they are ($DATASPACE_TOKEN, or a password)."""
    from data_products.pipeline_cli import cli_process

    if engine != "spark" and (master or parquet):
        typer.echo("error: --master and --parquet go with --engine spark", err=True)
        _exit(2)
    with _progress(progress, "process") as bar:
        code = cli_process(products=product or None, progress=bar, engine=engine, master=master, parquet=parquet,
                           acting=acting)
    _exit(code)


@app.command("export-parquet")
def export_parquet(
    out: Annotated[Path | None, typer.Option(help="Folder of the layout (default DATA_HOME/restricted/parquet).")] = None,
) -> None:
    """Lay the restricted zone's record tables out as Parquet partitioned by year, for Spark (and DuckDB)."""
    from data_products.restricted import parquet

    try:
        counts = parquet.export(root=out)
    except FileNotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        _exit(2)
    for table, rows in counts.items():
        typer.echo(f"{table}: {rows} rows -> {(out or parquet.default_root()) / table}")


ACTING = ("The commission official acting, who signs in: $DATASPACE_TOKEN, else the password from "
          "$DATASPACE_PASSWORD or a prompt (default user: $DATASPACE_USER).")


@app.command()
def approve(
    release: Annotated[str, typer.Argument(help="Release id from `dataspace process` (or `latest:PRODUCT`).")],
    acting: Annotated[str | None, typer.Option("--as", "--by", help=ACTING)] = None,
) -> None:
    """Re-check disclosure control and sign the release off; the second different official's sign-off
    records the approval and publishes it atomically."""
    from data_products.pipeline_cli import cli_approve

    _exit(cli_approve(release, acting))


@app.command()
def reconcile() -> None:
    """Finish a publish a crash interrupted (also run by approve, serve and build)."""
    from data_products.pipeline import reconcile as run

    for release_id in run():
        print(f"published {release_id} (its approval was recorded before the interruption)")


@app.command()
def build(
    demo: Annotated[bool, typer.Option("--demo", help="Build the synthetic demonstration space with demo accounts.")] = False,
    seed: int = 2024,
) -> None:
    """generate -> ingest -> process -> approve, end to end."""
    if not demo:
        raise typer.BadParameter("only --demo builds are automated; a real deployment ingests real extracts", param_hint="--demo")
    from data_products.pipeline_cli import cli_build_demo

    _exit(cli_build_demo(seed=seed))


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="Loopback port.")] = 8501,
    address: Annotated[str, typer.Option(help="Address to bind; loopback by default.")] = "127.0.0.1",
    security_headers: Annotated[bool, typer.Option(
        "--security-headers", help="Serve through Streamlit's ASGI entry (uvicorn) with security response headers "
                                   "(dashboards/asgi.py).")] = False,
) -> None:
    """Serve the dashboards (Streamlit) on the approved zone."""
    if paths().approved.exists():
        from data_products.pipeline import reconcile as finish_interrupted

        finish_interrupted()
    os.umask(0o077)  # whatever the server writes (logs, caches) is owner-only
    env = dict(os.environ, DATASPACE_HOME=str(paths().home))
    entry = DASHBOARD.with_name("asgi.py") if security_headers else DASHBOARD
    cmd = [sys.executable, "-m", "streamlit", "run", str(entry), "--server.port", str(port), "--server.address", address]
    # Streamlit replaces this process (same pid) rather than running as its child, so a SIGTERM or SIGINT sent
    # to `dataspace serve` reaches the server itself and nothing is left answering after it. Run from the
    # project root so Streamlit finds .streamlit/config.toml.
    sys.stdout.flush()
    sys.stderr.flush()
    os.chdir(DASHBOARD.parents[1])
    os.execve(sys.executable, cmd, env)


@app.command()
def bench(
    what: Annotated[str, typer.Argument(help="pipeline | gate | atlas | browser | all (all: not browser)")] = "all",
    kind: Annotated[str, typer.Option(help="pipeline: which kind")] = "pneumonia",
    scale: Annotated[str, typer.Option(help="pipeline: demo | city | a number of visits (visits kind)")] = "demo",
) -> None:
    """Benchmarks: figures and ratios against a baseline run side by side."""
    from data_products import bench as benchmarks

    if what not in ("pipeline", "gate", "atlas", "browser", "all"):
        raise typer.BadParameter(f"{what!r}: choose pipeline, gate, atlas, browser or all", param_hint="WHAT")
    try:
        code = benchmarks.run(what, kind=kind, scale=scale)
    except (FileNotFoundError, RuntimeError) as exc:  # the browser benchmark's missing demo, browser or chart
        typer.echo(f"error: {exc}", err=True)
        code = 2
    _exit(code)


@app.command("method-compare")
def method_compare(
    csv: Annotated[Path, typer.Option("--csv", help="CSV with one row per pair.")],
    reference: Annotated[str, typer.Option(help="Column of the reference method (e.g. TSB).")],
    test: Annotated[str, typer.Option(help="Column of the method under test (e.g. TcB).")],
    error_ratio: Annotated[float, typer.Option(help="Deming λ = var(error of test) / var(error of reference).")] = 1.0,
    json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    level: Annotated[list[float] | None, typer.Option(
        "--level", help="Decision level (repeatable): bias and limits of agreement there.")] = None,
    threshold: Annotated[float | None, typer.Option(
        help="Reference value defining a positive case, for sensitivity/specificity.")] = None,
    cutoff: Annotated[float | None, typer.Option(help="Test cut-off (default: --threshold).")] = None,
) -> None:
    """Method-comparison statistics (Bland-Altman, Deming, Passing-Bablok, ...) for your own paired data, any n."""
    from data_products.products.jaundice.cli import method_compare as run

    _exit(run(csv, reference, test, error_ratio=error_ratio, as_json=json, decision_levels=level or (),
              tsb_threshold=threshold, tcb_cutoff=cutoff))


@app.command()
def catalog(json: Annotated[bool, typer.Option("--json", help="JSON with a `products` and a `datasets` list.")] = False) -> None:
    """The catalog of products and datasets, with their lifecycle stage."""
    from data_products.catalog_cli import catalog_cli

    _exit(catalog_cli(json=json))


@export_app.command("wait-times")
def export_wait_times(
    out: Annotated[Path, typer.Option("--out", help="Where to write the JSON feed.")],
    service: Annotated[str, typer.Option(
        "--service", help="The service principal the feed runs under; it needs its own approved scenario covering "
                          "export of wait_times (the demo build creates wait_times_feed).")] = "wait_times_feed",
) -> None:
    """The wait-time estimates as a JSON feed an appointment platform can poll, decided by the gate.

    The command runs as SERVICE and proves it with SERVICE's token ($DATASPACE_TOKEN; `dataspace users token
    SERVICE` issues one). Refused (exit 2, reason on stderr, nothing written) without it or without an
    approved export scenario for SERVICE; exit 1 when no release is approved yet.
    """
    from data_products import approved
    from data_products.governance import AccessDenied
    from data_products.governance import cli as gov
    from data_products.governance.demo import FEED_SERVICE
    from data_products.products.wait_times.export import export_wait_times as run

    try:
        # The service is who acts: its token (or, in a demo space only, the demo's feed service).
        with gov.authenticated(service, demo_user=FEED_SERVICE) as (principal, who):
            done = run(out, principal, audit={"os_user": who, "via": "cli"})
    except gov.CliAuthError as exc:
        typer.echo(f"refused: {exc}", err=True)
        raise typer.Exit(2) from None
    except AccessDenied as exc:
        typer.echo(f"refused: {exc.decision.reason}: {exc.decision.message_en}", err=True)
        raise typer.Exit(2) from None
    except approved.NoRelease:
        typer.echo("error: no approved release of wait_times: run `dataspace build --demo` or process + approve", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"wrote {done.path}: {done.facilities} facilities, {done.slots} slots from {done.release_id}")


SCENARIO_STATES = ("pending", "approved", "rejected", "revoked", "withdrawn", "all")
scenarios_app = typer.Typer(help="Usage scenarios (一场景一授权): list, approve, reject, revoke.", no_args_is_help=True)
app.add_typer(scenarios_app, name="scenarios")


@scenarios_app.command("list")
def scenarios_list(
    state: Annotated[str, typer.Option(help="pending | approved | rejected | revoked | withdrawn | all")] = "pending",
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List scenarios in a state."""
    from data_products.governance import cli as gov

    if state not in SCENARIO_STATES:
        raise typer.BadParameter(f"state must be one of {' | '.join(SCENARIO_STATES)}", param_hint="--state")
    _exit(gov.scenario_list(None if state == "all" else state, json=json))


@scenarios_app.command("decide")
def scenarios_decide(
    scenario_id: int,
    decision: Annotated[str, typer.Argument(help="approve | reject | revoke")],
    acting: Annotated[str | None, typer.Option("--as", "--by", help=ACTING)] = None,
    reason: Annotated[str, typer.Option(help="Why (required to reject or revoke).")] = "",
) -> None:
    """Approve, reject or revoke a scenario (never one's own application)."""
    from data_products.governance import cli as gov

    _exit(gov.scenario_decide(scenario_id, decision, acting, reason))


@governance_app.command("migrate")
def governance_migrate(
    app_role: Annotated[str | None, typer.Option(
        "--app-role", help="PostgreSQL: the role the app replicas connect as; granted INSERT and SELECT on the "
                           "ledger and nothing that could alter it.")] = None,
) -> None:
    """Create or upgrade the governance schema; print the versioned migration history."""
    from data_products.governance import cli as gov

    _exit(gov.governance_migrate(app_role))


@users_app.command("add")
def users_add(
    username: str,
    role: Annotated[str, typer.Option(help="commission_official | commission_analyst | hospital | company")],
    org: Annotated[str, typer.Option(help="Organisation id (created if new).")],
    facility: Annotated[str | None, typer.Option(help="Facility id, for hospital users.")] = None,
    acting: Annotated[str | None, typer.Option("--as", help=ACTING)] = None,
) -> None:
    """Add a user, as a signed-in commission official (the first official: as the OS account); the new
    user's password is read from DATASPACE_NEW_PASSWORD or prompted for."""
    from data_products.governance import cli as gov

    _exit(gov.users_add(username, role, org, facility, acting=acting))


@users_app.command("disable")
def users_disable(username: str, acting: Annotated[str | None, typer.Option("--as", help=ACTING)] = None) -> None:
    """Disable a user (kept for the audit trail)."""
    from data_products.governance import cli as gov

    _exit(gov.users_disable(username, acting=acting))


@users_app.command("unlock")
def users_unlock(username: str, acting: Annotated[str | None, typer.Option("--as", help=ACTING)] = None) -> None:
    """Clear a username's failed sign-ins from every client."""
    from data_products.governance import cli as gov

    _exit(gov.users_unlock(username, acting=acting))


@users_app.command("token")
def users_token(
    username: str,
    revoke: Annotated[str | None, typer.Option("--revoke", help="Revoke this token id, or `all` of the user's.")] = None,
    acting: Annotated[str | None, typer.Option("--as", help=ACTING)] = None,
) -> None:
    """Issue a command-line token for USERNAME (printed once, kept only as a hash; give it as $DATASPACE_TOKEN),
    or revoke. A commission official does it for anyone, a user for themselves; issuing needs the password
    (a token never mints another), and a new password revokes every token of its user."""
    from data_products.governance.cli import users_token as run

    _exit(run(username, revoke=revoke, acting=acting))


@users_app.command("list")
def users_list(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List users."""
    from data_products.governance import cli as gov

    _exit(gov.users_list(json=json))


@audit_app.command("verify")
def audit_verify(
    anchor: Annotated[Path | None, typer.Option(help="A copy of the published heads (default: the data home's "
                                                     "approved/ledger-anchors.jsonl).")] = None,
    without_key: Annotated[bool, typer.Option("--without-key", help="Check chain and published heads only "
                                                                     "(for a reader without the MAC key).")] = False,
) -> None:
    """Check the chain, every entry's MAC and every published head; names the first bad entry."""
    from data_products.governance import cli as gov

    _exit(gov.audit_verify(anchor, without_key=without_key))


@audit_app.command("anchor")
def audit_anchor(anchor: Annotated[Path | None, typer.Option(help="Anchor file to append to.")] = None) -> None:
    """Publish the ledger's current head (run it regularly; copy the file off the machine)."""
    from data_products.governance import cli as gov

    _exit(gov.audit_anchor(anchor))


@audit_app.command("report")
def audit_report(
    days: Annotated[int, typer.Option(help="The period: the last N days.")] = 30,
    json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The administrators' report: who touched what, when, under which authorization."""
    from data_products.governance import cli as gov

    _exit(gov.audit_report(days, json=json))


analyses_app = typer.Typer(help="Analyses of usable datasets under a research scenario (checked, reviewed).",
                            no_args_is_help=True)
app.add_typer(analyses_app, name="analyses")


@analyses_app.command("submit")
def analyses_submit(
    scenario: Annotated[int, typer.Option("--scenario", help="Your approved research scenario's id.")],
    dataset: Annotated[str, typer.Option("--dataset", help="Dataset id, e.g. ds_liver_cancer.")],
    user: Annotated[str, typer.Option("--user", help="Who submits (signs in with $DATASPACE_PASSWORD).")],
    sql: Annotated[Path | None, typer.Option("--sql", help="File with one SELECT over the dataset's view.")] = None,
    model: Annotated[Path | None, typer.Option("--model", help="JSON model spec (summary, linear, logistic, "
                                                                 "kaplan_meier).")] = None,
) -> None:
    """Submit an analysis: it runs inside the space and waits for checks and two reviewers."""
    from data_products.analyses import cli as an

    _exit(an.submit(scenario, dataset, sql, model, user))


@analyses_app.command("list")
def analyses_list(json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Every analysis with its state and check results (never an output)."""
    from data_products.analyses import cli as an

    _exit(an.list_(json=json))


@analyses_app.command("show")
def analyses_show(
    analysis_id: int,
    user: Annotated[str | None, typer.Option("--user", help="Show the output if this user may see it.")] = None,
) -> None:
    """One analysis: request, state, checks (and output for a signed-in user allowed to see it)."""
    from data_products.analyses import cli as an

    _exit(an.show(analysis_id, user))


@analyses_app.command("review")
def analyses_review(
    analysis_id: int,
    decision: Annotated[str, typer.Option("--decision", help="release | reject")],
    reason: Annotated[str, typer.Option("--reason", help="Why.")],
    by: Annotated[str, typer.Option("--by", help="The commission reviewer (signs in with $DATASPACE_PASSWORD).")],
) -> None:
    """A commission reviewer's decision; two different reviewers release an output."""
    from data_products.analyses import cli as an

    _exit(an.review(analysis_id, decision, reason, by))


@analyses_app.command("run")
def analyses_run(analysis_id: int) -> None:
    """Run one queued analysis inside the restricted zone (what the app's worker calls)."""
    from data_products.analyses import cli as an

    _exit(an.run_one(analysis_id))


@analyses_app.command("run-queued")
def analyses_run_queued() -> None:
    """Run analyses that were queued (a revoked scenario stops them)."""
    from data_products.analyses import cli as an

    _exit(an.run_queued())


def main(argv: list[str] | None = None) -> int:
    # Every file a command creates (stores, keys, releases, logs) is owner-only.
    old_umask = os.umask(0o077)
    try:
        app(args=argv, prog_name="dataspace", standalone_mode=True)
    except SystemExit as exc:
        return int(exc.code or 0)
    finally:
        os.umask(old_umask)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
