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
    /// Lower-cased range-variable names of each enclosing SELECT's FROM (BigQuery array paths).
    alias_scopes: Vec<Vec<String>>,
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
            alias_scopes: Vec::new(),
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

    pub(super) fn alias_in_scope(&self, lower: &str) -> bool {
        self.alias_scopes
            .iter()
            .any(|scope| scope.iter().any(|a| a == lower))
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
        let mut scope = Vec::new();
        if self.dialect == SqlDialect::BigQuery {
            collect_range_variables(&select.from, &mut scope);
        }
        self.alias_scopes.push(scope);
        ControlFlow::Continue(())
    }

    fn post_visit_select(&mut self, _select: &Select) -> ControlFlow<()> {
        self.alias_scopes.pop();
        ControlFlow::Continue(())
    }

    fn pre_visit_table_factor(&mut self, factor: &TableFactor) -> ControlFlow<()> {
        self.check_table_factor(factor);
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
