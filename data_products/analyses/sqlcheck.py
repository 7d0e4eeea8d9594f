"""Check and rewrite an analysis query before it runs (sqlglot).

A query is accepted only if it is one SELECT over the dataset's view, with no join, subquery, CTE,
set operation, window or FILTER clause, using only allow-listed operators and functions (so no file,
network, ``read_*``, extension or table function can be named), whose every column is a column of the
view used as that column's control list permits. Its output must be aggregated: a column outside an
aggregate has to be a grouping key. ``MIN``/``MAX`` are refused (each returns one record's value).

The rewrite adds hidden columns the output checks need (``checks.py``): the group's size and record
keys, and for every aggregate the values it consumed and the records they came from. They are dropped
before anyone sees the output.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp

from data_products.specialty.dictionary import CCL_TEXT, Dictionary

HIDDEN = "__"
ROW_KEY = "__rk"

AGGREGATES: tuple[type[exp.Expression], ...] = (
    exp.Count, exp.Sum, exp.Avg, exp.Median, exp.PercentileCont, exp.PercentileDisc, exp.Quantile,
    exp.Stddev, exp.StddevSamp, exp.StddevPop, exp.Variance, exp.VariancePop,
)
COUNTS = (exp.Count,)
SUMS = (exp.Sum,)
SCALARS: tuple[type[exp.Expression], ...] = (
    exp.Add, exp.Sub, exp.Mul, exp.Div, exp.IntDiv, exp.Mod, exp.Neg, exp.Paren,
    exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.And, exp.Or, exp.Not, exp.Is, exp.In, exp.Between,
    exp.Like, exp.ILike, exp.Case, exp.If, exp.Cast, exp.TryCast, exp.Coalesce, exp.Abs, exp.Round, exp.Floor,
    exp.Ceil, exp.Ln, exp.Log, exp.Exp, exp.Sqrt, exp.Pow, exp.Greatest, exp.Least, exp.Year, exp.Month,
    exp.Quarter, exp.Extract, exp.TimestampTrunc, exp.DateTrunc, exp.DateDiff, exp.Nullif, exp.Sign,
)
STRUCTURE: tuple[type[exp.Expression], ...] = (
    exp.Select, exp.From, exp.Table, exp.TableAlias, exp.Where, exp.Group, exp.Having, exp.Order, exp.Ordered,
    exp.Limit, exp.Identifier, exp.Column, exp.Literal, exp.Null, exp.Boolean, exp.Alias, exp.Distinct,
    exp.DataType, exp.DataTypeParam, exp.Var, exp.Array, exp.Tuple, exp.Star,
)
ALLOWED = AGGREGATES + SCALARS + STRUCTURE
# What a refused construct is, in words a researcher recognises.
NAMED = {
    exp.Join: "a JOIN (an analysis reads one dataset's view)",
    exp.Subquery: "a subquery", exp.With: "a WITH clause (CTE)", exp.CTE: "a WITH clause (CTE)",
    exp.Union: "a set operation (UNION)", exp.Intersect: "a set operation (INTERSECT)",
    exp.Except: "a set operation (EXCEPT)", exp.Window: "a window function (OVER)",
    exp.Filter: "an aggregate FILTER clause (write a CASE inside the aggregate)",
    exp.Min: "MIN (it returns one record's value)", exp.Max: "MAX (it returns one record's value)",
    exp.Lateral: "LATERAL", exp.Unnest: "UNNEST", exp.Values: "VALUES", exp.Into: "SELECT INTO",
    exp.Placeholder: "a parameter placeholder", exp.Offset: "OFFSET",
}


class QueryRefused(ValueError):
    """The query may not run; ``rule`` names the rule (for the checks table and the ledger)."""

    def __init__(self, rule: str, message: str, column: str | None = None):
        super().__init__(message)
        self.rule = rule
        self.column = column


@dataclass
class Aggregate:
    index: int
    function: str       # count | count_distinct | sum | mean | median | quantile | spread
    sql: str            # the aggregate as written
    argument: str | None  # its argument's SQL (None for COUNT(*))


@dataclass
class Checked:
    original: str
    sql: str                    # the query as it will run (normalised, hidden columns added)
    visible: int                # number of visible output columns (the first ones)
    aggregates: list[Aggregate] = field(default_factory=list)
    columns_used: dict[str, set[str]] = field(default_factory=dict)
    view: str = ""


def _function_kind(node: exp.Expression) -> str:
    if isinstance(node, exp.Count):
        return "count_distinct" if isinstance(node.this, exp.Distinct) else "count"
    if isinstance(node, exp.Sum):
        return "sum"
    if isinstance(node, exp.Avg):
        return "mean"
    if isinstance(node, exp.Median):
        return "median"
    if isinstance(node, (exp.PercentileCont, exp.PercentileDisc, exp.Quantile)):
        return "quantile"
    return "spread"


def _argument(node: exp.Expression) -> exp.Expression | None:
    arg = node.this
    if isinstance(arg, exp.Distinct):
        exprs = arg.expressions
        if len(exprs) != 1:
            raise QueryRefused("structure", "COUNT(DISTINCT ...) takes one expression here")
        arg = exprs[0]
    if isinstance(arg, exp.Star) or arg is None:
        return None
    return arg


def _context(node: exp.Expression, select: exp.Select) -> str:
    """Where a column occurs: 'aggregate' (inside an aggregate), 'filter' (WHERE), 'group' (GROUP BY,
    or outside aggregates in SELECT / HAVING / ORDER BY, where it must be a grouping key)."""
    cur = node.parent
    while cur is not None and cur is not select:
        if isinstance(cur, AGGREGATES):
            return "aggregate"
        if isinstance(cur, exp.Where):
            return "filter"
        if isinstance(cur, exp.Group):
            return "group"
        cur = cur.parent
    return "select"


_USES = {"group": {"group", "aggregate", "filter"}, "aggregate": {"aggregate"}, "filter": {"filter"},
         "join": {"join"}, "never": set()}
_WHERE_WORDS = {"select": "in the output outside an aggregate", "group": "as a grouping key",
                "filter": "in a filter (WHERE)", "aggregate": "inside an aggregate"}


def ccl_allows(rule: str, context: str) -> bool:
    return ("group" if context == "select" else context) in _USES[rule]


def ccl_refusal(column: str, rule: str, context: str) -> QueryRefused:
    return QueryRefused(
        "column_control",
        f"column {column}: its control list allows it {CCL_TEXT[rule][1]} (rule '{rule}'), "
        f"but the query uses it {_WHERE_WORDS[context]}",
        column,
    )


def check(sql: str, d: Dictionary, max_rows: int) -> Checked:
    if not isinstance(sql, str) or not sql.strip():
        raise QueryRefused("structure", "the query is empty")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except sqlglot.errors.ParseError as exc:
        first = exc.errors[0] if exc.errors else {}
        where = f" (line {first.get('line')}, column {first.get('col')})" if first else ""
        raise QueryRefused("syntax", f"the query does not parse{where}: {first.get('description', exc)}") from None
    if len(statements) != 1:
        raise QueryRefused("single_statement", f"one statement only; the text holds {len(statements)}")
    tree = statements[0]
    if not isinstance(tree, exp.Select):
        raise QueryRefused("select_only", f"only a SELECT may run; this is a {tree.key.upper()} statement")

    for node in tree.walk():
        for kind, words in NAMED.items():
            if isinstance(node, kind):
                raise QueryRefused("structure", f"not allowed: {words}")
        if isinstance(node, exp.Func) and not isinstance(node, AGGREGATES + SCALARS):
            name = node.sql_name() if not isinstance(node, exp.Anonymous) else node.name
            raise QueryRefused("function", f"function {name.lower()}() is not allowed (only aggregates and "
                                           "arithmetic, comparison, date and rounding functions)")
        if not isinstance(node, ALLOWED):
            raise QueryRefused("structure", f"not allowed: {node.key.upper()} ({node.sql(dialect='duckdb')[:60]})")
        if isinstance(node, exp.Star) and not isinstance(node.parent, exp.Count):
            raise QueryRefused("row_level", "SELECT * returns records; ask for aggregates (COUNT, AVG, ...) instead")

    tables = list(tree.find_all(exp.Table))
    if len(tables) != 1:
        raise QueryRefused("dataset", f"the query must read exactly one table, the view {d.view}")
    table = tables[0]
    if table.name.lower() != d.view or table.args.get("db") or table.args.get("catalog"):
        raise QueryRefused("dataset", f"table {table.sql(dialect='duckdb')} is not this analysis's dataset; "
                                      f"the only table it may read is {d.view}")
    alias = table.alias_or_name.lower()

    rules = d.ccl()
    aliases = {p.alias.lower() for p in tree.expressions if isinstance(p, exp.Alias)}
    group = tree.args.get("group")
    if group is not None and group.args.get("all"):
        raise QueryRefused("structure", "GROUP BY ALL: name the grouping columns")
    groups = list(group.expressions) if group is not None else []
    projections = {p.alias.lower(): p.this for p in tree.expressions if isinstance(p, exp.Alias)}
    group_sql = set()
    for g in groups:
        if isinstance(g, exp.Literal) and g.is_int and 1 <= int(g.name) <= len(tree.expressions):
            p = tree.expressions[int(g.name) - 1]
            g = p.this if isinstance(p, exp.Alias) else p
        elif isinstance(g, exp.Column) and not g.table and g.name.lower() in projections \
                and g.name.lower() not in d.ccl():
            g = projections[g.name.lower()]
        group_sql.add(g.sql(dialect="duckdb").lower())
    used: dict[str, set[str]] = {}
    for col in tree.find_all(exp.Column):
        name = col.name.lower()
        qual = col.table.lower() if col.table else None
        if qual is None and name in aliases and name not in rules:
            continue  # ORDER BY / HAVING naming an output alias
        if qual is not None and qual not in (alias, d.view):
            raise QueryRefused("dataset", f"{col.sql()} refers to a table other than {d.view}")
        if name.startswith(HIDDEN) or name not in rules:
            raise QueryRefused("column", f"column {col.name} is not in {d.view} (see the data dictionary)", col.name)
        ctx = _context(col, tree)
        used.setdefault(name, set()).add(ctx)
        if not ccl_allows(rules[name], ctx):
            raise ccl_refusal(name, rules[name], ctx)

    # Every output expression outside an aggregate must be a grouping key (no record-level output).
    aggs_in_select = []
    for proj in tree.expressions:
        inner = proj.this if isinstance(proj, exp.Alias) else proj
        found = list(inner.find_all(*AGGREGATES))
        if len(found) > 1:
            # Arithmetic between aggregates (count(*) - count(CASE ...)) releases a difference no check sees.
            raise QueryRefused("structure", f"output {proj.sql(dialect='duckdb')[:80]} combines {len(found)} "
                                            "aggregates; give each aggregate its own output column")
        aggs_in_select.extend(found)
        if found:
            for col in inner.find_all(exp.Column):
                if _context(col, tree) == "select" and col.sql(dialect="duckdb").lower() not in group_sql:
                    raise QueryRefused("row_level", f"{col.sql()} appears outside an aggregate without being "
                                                    "a GROUP BY key")
            continue
        if inner.sql(dialect="duckdb").lower() not in group_sql and not isinstance(inner, exp.Literal):
            raise QueryRefused("row_level", f"output {proj.sql(dialect='duckdb')} is neither aggregated nor a GROUP BY "
                                            "key: record-level output is not allowed")
    if not aggs_in_select and not groups:
        raise QueryRefused("row_level", "the query returns records, not aggregates")

    limit = tree.args.get("limit")
    rewritten = tree.copy()
    if limit is None or not isinstance(limit.expression, exp.Literal) or int(limit.expression.name) > max_rows:
        rewritten = rewritten.limit(max_rows + 1)

    aggregates = []
    hidden = [f"count(*) AS {HIDDEN}n", f"list({ROW_KEY}) AS {HIDDEN}k"]
    seen: dict[str, int] = {}
    for node in aggs_in_select:
        text = node.sql(dialect="duckdb")
        if text in seen:
            continue
        i = len(aggregates)
        seen[text] = i
        arg = _argument(node)
        arg_sql = None if arg is None else arg.sql(dialect="duckdb")
        aggregates.append(Aggregate(i, _function_kind(node), text, arg_sql))
        if arg_sql is not None:
            hidden.append(f"list({arg_sql}) AS {HIDDEN}v{i}")
            hidden.append(f"list({ROW_KEY}) FILTER (WHERE ({arg_sql}) IS NOT NULL) AS {HIDDEN}k{i}")
    visible = len(tree.expressions)
    for h in hidden:
        rewritten = rewritten.select(sqlglot.parse_one(h, read="duckdb"), copy=False)
    return Checked(original=sql, sql=rewritten.sql(dialect="duckdb"), visible=visible, aggregates=aggregates,
                   columns_used=used, view=d.view)
