//! The walk over sqlparser's tree: visits every node once, keeps the scopes a name is
//! resolved in (CTE names, BigQuery range variables) and hands each node to the rules.
//!
//! Scope handling lives here and only here, so `rules` and `relations` ask "is this name a
//! CTE / a range variable here?" rather than tracking the walk themselves.

use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Ident, InTarget, ObjectName, ObjectNamePart, Query, Select, Spanned, Statement,
    TableFactor, TableWithJoins, Value, ValueWithSpan, Visit, Visitor,
};
use sqlparser::tokenizer::Span;

use super::{BigQueryPolicy, Pos, SqlDialect, SqlProblem, codes, pos_of, problem};

/// CTE names of one WITH clause and how many of them the code being visited can see.
struct CteFrame {
    /// The query that owns the WITH clause; compared by address only.
    owner: *const Query,
    /// Lower-cased CTE names, in order.
    names: Vec<String>,
    /// The CTE bodies, by address, to notice when the walk enters and leaves them.
    bodies: Vec<*const Query>,
    /// CTE `i` sees the names before it (and itself when RECURSIVE); the main body sees all.
    visible: usize,
    recursive: bool,
}

/// Walks one parsed text, collecting problems, the relations read and the parameters used.
pub(super) struct Checker<'p> {
    pub(super) dialect: SqlDialect,
    pub(super) policy: &'p BigQueryPolicy,
    /// Position used when a node carries no span: the start of the statement.
    fallback: Pos,
    problems: Vec<SqlProblem>,
    tables: Vec<String>,
    params: Vec<String>,
    cte_frames: Vec<CteFrame>,
    /// The range variables of each enclosing SELECT, innermost last (BigQuery array paths).
    from_scopes: Vec<FromScope>,
}

/// The range variables of one SELECT's FROM, and how far the walk has got through it.
///
/// BigQuery reads a two-part name `x.y` in FROM as an array path only when `x` is a range
/// variable defined strictly to its left (earlier in the FROM list or join chain) or in an
/// enclosing query; otherwise `x` is a dataset. So while the FROM is walked, only the
/// variables already passed are visible; before it (the SELECT list) and after it (WHERE,
/// GROUP BY, …) all of them are.
struct FromScope {
    /// Lower-cased range variables of the whole FROM, in order.
    all: Vec<String>,
    /// Those defined so far while the FROM is being walked.
    defined: Vec<String>,
    /// The top-level FROM items (first relations and joins), by address: factors the walk
    /// meets outside them (a pipe `|> JOIN` of a subquery in the SELECT list) are not this
    /// FROM's and must not move it along.
    top: Vec<*const TableFactor>,
    /// Top-level FROM items not yet walked.
    pending: usize,
    /// For each table factor entered and not yet left: `defined.len()` when it was entered.
    open: Vec<usize>,
    /// Whether the walk has reached the FROM (the SELECT list comes before it).
    started: bool,
}

impl FromScope {
    fn new(select: &Select) -> Self {
        let mut all = Vec::new();
        collect_range_variables(&select.from, &mut all);
        let top: Vec<*const TableFactor> = select
            .from
            .iter()
            .flat_map(|item| {
                std::iter::once(&item.relation).chain(item.joins.iter().map(|join| &join.relation))
            })
            .map(|factor| -> *const TableFactor { factor })
            .collect();
        Self {
            all,
            defined: Vec::new(),
            pending: top.len(),
            top,
            open: Vec::new(),
            started: false,
        }
    }

    /// Inside the FROM, the variables defined so far; before and after it, all of them.
    fn visible(&self) -> &[String] {
        if self.started && self.pending > 0 {
            &self.defined
        } else {
            &self.all
        }
    }

    /// Enters a factor of this FROM (a top-level item or one nested in an open item).
    fn enter(&mut self, factor: &TableFactor) {
        if self.open.is_empty() && !self.top.iter().any(|t| std::ptr::eq(*t, factor)) {
            return;
        }
        self.started = true;
        self.open.push(self.defined.len());
    }

    /// Leaves a factor: what it defines becomes visible to everything after it. A parenthesised
    /// join keeps the variables of its members; any other factor (PIVOT over a table, …)
    /// replaces what its inner factors defined by its own name.
    fn leave(&mut self, factor: &TableFactor) {
        // Nothing open: `enter` passed over this factor, which is not part of this FROM.
        let Some(mark) = self.open.pop() else {
            return;
        };
        match factor {
            TableFactor::NestedJoin { alias, .. } => {
                if let Some(alias) = alias {
                    self.defined.push(alias.name.value.to_lowercase());
                }
            }
            other => {
                self.defined.truncate(mark);
                range_variable(other, &mut self.defined);
            }
        }
        if self.open.is_empty() {
            self.pending = self.pending.saturating_sub(1);
        }
    }
}

impl<'p> Checker<'p> {
    pub(super) fn new(dialect: SqlDialect, policy: &'p BigQueryPolicy) -> Self {
        Self {
            dialect,
            policy,
            fallback: (1, 1),
            problems: Vec::new(),
            tables: Vec::new(),
            params: Vec::new(),
            cte_frames: Vec::new(),
            from_scopes: Vec::new(),
        }
    }

    /// Walks one query statement; `start` stands in for nodes that carry no position.
    pub(super) fn check_statement(&mut self, statement: &Statement, start: Pos) {
        self.fallback = start;
        // The checker never breaks, so the flow result carries nothing.
        let _ = statement.visit(self);
    }

    /// Problems found, relations read and parameters used, in order of discovery.
    pub(super) fn into_parts(self) -> (Vec<SqlProblem>, Vec<String>, Vec<String>) {
        (self.problems, self.tables, self.params)
    }

    fn at(&self, span: Span) -> Pos {
        if span.start.line == 0 {
            self.fallback
        } else {
            pos_of(span.start)
        }
    }

    pub(super) fn report(
        &mut self,
        code: &'static str,
        message: String,
        hint: impl Into<String>,
        span: Span,
    ) {
        let at = self.at(span);
        self.problems.push(problem(code, message, hint, at));
    }

    pub(super) fn add_table(&mut self, name: String) {
        if !self.tables.contains(&name) {
            self.tables.push(name);
        }
    }

    fn add_param(&mut self, placeholder: &str) {
        let name = placeholder
            .strip_prefix(['$', '@', ':'])
            .filter(|n| !n.is_empty())
            .unwrap_or(placeholder);
        if !self.params.iter().any(|p| p == name) {
            self.params.push(name.to_owned());
        }
    }

    pub(super) fn cte_in_scope(&self, lower: &str) -> bool {
        self.cte_frames.iter().any(|frame| {
            frame
                .names
                .get(..frame.visible)
                .is_some_and(|names| names.iter().any(|n| n == lower))
        })
    }

    /// Whether `lower` names a range variable visible here: see [`FromScope`].
    pub(super) fn range_variable_in_scope(&self, lower: &str) -> bool {
        self.from_scopes
            .iter()
            .any(|scope| scope.visible().iter().any(|a| a == lower))
    }
}

impl Visitor for Checker<'_> {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let address: *const Query = query;
        if let Some(frame) = self.cte_frames.last_mut()
            && let Some(i) = frame.bodies.iter().position(|b| std::ptr::eq(*b, address))
        {
            frame.visible = if frame.recursive { i + 1 } else { i };
        }
        if let Some(with) = &query.with {
            self.cte_frames.push(CteFrame {
                owner: address,
                names: with
                    .cte_tables
                    .iter()
                    .map(|cte| cte.alias.name.value.to_lowercase())
                    .collect(),
                bodies: with
                    .cte_tables
                    .iter()
                    .map(|cte| -> *const Query { &*cte.query })
                    .collect(),
                visible: 0,
                recursive: with.recursive,
            });
        }
        self.check_query_body(query);
        self.check_pipe_operators(query);
        ControlFlow::Continue(())
    }

    fn post_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        let address: *const Query = query;
        if self
            .cte_frames
            .last()
            .is_some_and(|frame| std::ptr::eq(frame.owner, address))
        {
            self.cte_frames.pop();
        }
        if let Some(frame) = self.cte_frames.last_mut()
            && let Some(i) = frame.bodies.iter().position(|b| std::ptr::eq(*b, address))
        {
            frame.visible = i + 1;
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_select(&mut self, select: &Select) -> ControlFlow<()> {
        if select.into.is_some() {
            self.report(
                codes::DATA_MODIFYING,
                "`SELECT … INTO` creates a table".to_owned(),
                "Remove the INTO clause; the runner stores the result.",
                select.select_token.0.span,
            );
        }
        self.from_scopes.push(FromScope::new(select));
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<()> {
        self.from_scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        // Entered first, so the FROM counts as started, and checked before its own name is
        // defined: `FROM hr.salaries AS hr` reads dataset `hr`.
        if let Some(scope) = self.from_scopes.last_mut() {
            scope.enter(factor);
        }
        self.check_table_factor(factor);
        ControlFlow::Continue(())
    }

    fn post_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        if let Some(scope) = self.from_scopes.last_mut() {
            scope.leave(factor);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(function) => self.check_function(function),
            // `x IN name` reads a relation outside FROM. Only the SQLite dialect parses it
            // today; checking it here keeps that true if a dialect starts to.
            Expr::In {
                target: InTarget::Table { name, args },
                ..
            } => {
                if args.is_some() {
                    self.check_table_function(name, name.span());
                } else {
                    self.check_relation(name, name.span());
                }
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_value(&mut self, value: &ValueWithSpan) -> ControlFlow<()> {
        if let Value::Placeholder(placeholder) = &value.value {
            self.add_param(placeholder);
        }
        ControlFlow::Continue(())
    }

    fn pre_visit_ident(&mut self, ident: &Ident) -> ControlFlow<()> {
        // sqlparser's BigQuery dialect reads `@name` as an identifier; `@@x` are system variables.
        if self.dialect == SqlDialect::BigQuery
            && ident.quote_style.is_none()
            && ident.value.starts_with('@')
            && !ident.value.starts_with("@@")
        {
            self.add_param(&ident.value);
        }
        ControlFlow::Continue(())
    }
}

/// Name parts with quotes removed, dotted identifiers split; `None` for computed names.
pub(super) fn name_parts(name: &ObjectName) -> Option<Vec<String>> {
    let mut parts = Vec::new();
    for part in &name.0 {
        match part {
            ObjectNamePart::Identifier(ident) => {
                parts.extend(ident.value.split('.').map(str::to_owned));
            }
            ObjectNamePart::Function(_) => return None,
        }
    }
    Some(parts)
}

fn collect_range_variables(from: &[TableWithJoins], out: &mut Vec<String>) {
    for item in from {
        range_variable(&item.relation, out);
        for join in &item.joins {
            range_variable(&join.relation, out);
        }
    }
}

fn range_variable(factor: &TableFactor, out: &mut Vec<String>) {
    match factor {
        TableFactor::Table { name, alias, .. } => match alias {
            Some(alias) => out.push(alias.name.value.to_lowercase()),
            // An unaliased table is its own range variable, named by its last part.
            None => {
                if let Some(last) = name_parts(name).and_then(|p| p.last().cloned()) {
                    out.push(last.to_lowercase());
                }
            }
        },
        TableFactor::NestedJoin {
            table_with_joins,
            alias,
        } => {
            if let Some(alias) = alias {
                out.push(alias.name.value.to_lowercase());
            }
            collect_range_variables(std::slice::from_ref(table_with_joins.as_ref()), out);
        }
        TableFactor::Derived { alias, .. }
        | TableFactor::UNNEST { alias, .. }
        | TableFactor::Function { alias, .. }
        | TableFactor::Pivot { alias, .. }
        | TableFactor::Unpivot { alias, .. } => {
            if let Some(alias) = alias {
                out.push(alias.name.value.to_lowercase());
            }
        }
        _ => {}
    }
}
