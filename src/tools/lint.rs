//! `abra recipe lint` output: its exit code only signals a fatal error, so the
//! rule table (R001…R016) is parsed to know what passed. The one parser of
//! that table, for `tools::abra::recipe_lint` and the run's lint rung (which
//! reports lint and never fails a run on it). See docs/abra.md, "Recipe lint".

/// One row of abra's lint table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LintRule {
    /// `R001`…
    pub id: String,
    pub rule: String,
    /// `warn`, `error`, … as abra prints it.
    pub severity: String,
    pub satisfied: bool,
    pub skipped: bool,
}

/// Remove ANSI escape sequences (abra colours its table under a terminal).
pub fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            if chars.peek() == Some(&'[') {
                chars.next();
                // CSI: parameters then one final byte in @..~
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            } else {
                chars.next();
            }
            continue;
        }
        if c != '\r' {
            out.push(c);
        }
    }
    out
}

fn is_rule_id(s: &str) -> bool {
    s.len() == 4 && s.starts_with('R') && s[1..].bytes().all(|b| b.is_ascii_digit())
}

fn truthy(cell: &str) -> Option<bool> {
    let c = cell.trim().to_ascii_lowercase();
    match c.as_str() {
        "✅" | "✓" | "✔" | "yes" | "true" | "y" => Some(true),
        "❌" | "✗" | "✘" | "no" | "false" | "n" | "-" | "" => Some(false),
        _ => None,
    }
}

/// Parse the rule rows out of abra's table (box-drawing or ASCII), ignoring
/// every other line. Columns: REF, RULE, SEVERITY, SATISFIED, SKIPPED, RESOLVE.
pub fn parse_lint_table(output: &str) -> Vec<LintRule> {
    let clean = strip_ansi(output);
    let mut rules = Vec::new();
    for line in clean.lines() {
        let cells: Vec<&str> = line
            .split(['│', '|', '┃'])
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect();
        let Some(pos) = cells.iter().position(|c| is_rule_id(c)) else {
            continue;
        };
        let row = &cells[pos..];
        if row.len() < 4 {
            continue;
        }
        let Some(satisfied) = truthy(row[3]) else {
            continue;
        };
        let skipped = row.get(4).and_then(|c| truthy(c)).unwrap_or(false);
        rules.push(LintRule {
            id: row[0].to_owned(),
            rule: row[1].to_owned(),
            severity: row[2].to_ascii_lowercase(),
            satisfied,
            skipped,
        });
    }
    rules
}

/// Rules that were checked and not satisfied.
pub fn unsatisfied(rules: &[LintRule]) -> Vec<&LintRule> {
    rules
        .iter()
        .filter(|r| !r.satisfied && !r.skipped)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOX_TABLE: &str = "\u{1b}[1m┌──────┬──────────────────────────────┬──────────┬───────────┬─────────┬──────────┐\u{1b}[0m
│ REF  │ RULE                         │ SEVERITY │ SATISFIED │ SKIPPED │ RESOLVE  │
├──────┼──────────────────────────────┼──────────┼───────────┼─────────┼──────────┤
│ R001 │ compose config has expected version │ warning  │ ✅        │ ❌      │          │
│ R002 │ \u{1b}[31mhealthcheck enabled for all services\u{1b}[0m │ warning │ ❌ │ ❌ │ add healthcheck │
│ R014 │ only annotated tags used     │ error    │ ❌        │ ✅      │          │
└──────┴──────────────────────────────┴──────────┴───────────┴─────────┴──────────┘
";

    #[test]
    fn parses_box_table_rows() {
        let rules = parse_lint_table(BOX_TABLE);
        assert_eq!(rules.len(), 3);
        assert_eq!(rules[0].id, "R001");
        assert!(rules[0].satisfied);
        assert_eq!(rules[1].rule, "healthcheck enabled for all services");
        assert!(!rules[1].satisfied);
        assert!(rules[2].skipped);
    }

    #[test]
    fn unsatisfied_ignores_skipped_rules() {
        let rules = parse_lint_table(BOX_TABLE);
        let bad: Vec<&str> = unsatisfied(&rules).iter().map(|r| r.id.as_str()).collect();
        assert_eq!(bad, ["R002"]);
    }

    #[test]
    fn parses_ascii_yes_no_table() {
        let t = "| R003 | all services have images | warn | yes | no | |\n| R004 | x | error | no | no | fix |\n";
        let rules = parse_lint_table(t);
        assert_eq!(rules.len(), 2);
        assert!(rules[0].satisfied);
        assert!(!rules[1].satisfied);
    }

    #[test]
    fn other_lines_are_ignored() {
        assert!(parse_lint_table("FATA unable to lint\nno table here\n").is_empty());
    }

    #[test]
    fn strip_ansi_removes_colour_and_carriage_returns() {
        assert_eq!(strip_ansi("\u{1b}[31mred\u{1b}[0m\r\n"), "red\n");
    }
}
