//! Upward reports (事件报告) under 国家网络安全事件报告管理办法 (in force
//! 2025-11-01): an incident of level III or above must be reported upward
//! within 1 h (CII operators), 2 h (central and state organs) or 4 h
//! (others); for levels I–II the receiver escalates to the national level
//! within 30 min (CII) or 1 h. A first report may carry items 1–2 only; the
//! rest follows as supplements (补报), new developments as follow-ups (续报),
//! and a closure report is due within 30 days of the end of handling.

use serde::{Deserialize, Serialize};

use crate::{Level, WorkflowError};

names! {
    /// Who the operator is, which sets the reporting clock.
    pub enum OperatorClass {
        /// 关键信息基础设施运营者: to the protection department and police.
        Cii = "cii",
        /// 中央和国家机关及其所属单位: to its own 网信 body.
        CentralOrgan = "central_organ",
        /// Any other operator: to the provincial 网信 department.
        Other = "other",
    }
}

impl OperatorClass {
    /// Seconds from the incident's start to the first report.
    pub fn report_within(self) -> i64 {
        match self {
            OperatorClass::Cii => 3_600,
            OperatorClass::CentralOrgan => 7_200,
            OperatorClass::Other => 14_400,
        }
    }

    /// Seconds from the first report to the national level, for I–II.
    pub fn escalate_within(self) -> i64 {
        match self {
            OperatorClass::Cii => 1_800,
            OperatorClass::CentralOrgan | OperatorClass::Other => 3_600,
        }
    }
}

names! {
    pub enum ReportKind {
        /// 首报: items 1–2 at least.
        First = "first",
        /// 补报: the items the first report left out.
        Supplement = "supplement",
        /// 续报: new developments.
        FollowUp = "follow_up",
        /// 总结报告: within 30 days of the end of handling, items 1–7.
        Closure = "closure",
    }
}

impl ReportKind {
    pub fn name_zh(self) -> &'static str {
        match self {
            ReportKind::First => "首报",
            ReportKind::Supplement => "补报",
            ReportKind::FollowUp => "续报",
            ReportKind::Closure => "总结报告",
        }
    }
}

/// Whether a notice's level must be reported upward.
pub fn must_report(level: Level) -> bool {
    level <= Level::III
}

/// Whether the receiver must escalate to the national level.
pub fn must_escalate(level: Level) -> bool {
    level <= Level::II
}

/// The closure report is due this long after handling ends.
pub const CLOSURE_WITHIN: i64 = 30 * 86_400;
/// Longest item, in characters.
const MAX_ITEM: usize = 20_000;

/// The eight items of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportItems {
    /// 1 运营者及受影响设施: the operator and the affected system or facility.
    #[serde(default)]
    pub operator_facility: String,
    /// 2 事件发生时间、地点、类型、级别、影响、已采取措施 (ransomware: amount, method, date).
    #[serde(default)]
    pub event: String,
    /// 3 可能进一步造成的影响.
    #[serde(default)]
    pub further_impact: String,
    /// 4 初步原因分析.
    #[serde(default)]
    pub cause: String,
    /// 5 攻击者、攻击路径、漏洞等线索.
    #[serde(default)]
    pub leads: String,
    /// 6 拟采取措施及需要的支持.
    #[serde(default)]
    pub measures_help: String,
    /// 7 现场和证据保护情况.
    #[serde(default)]
    pub evidence: String,
    /// 8 其他.
    #[serde(default)]
    pub other: String,
}

impl ReportItems {
    /// The items with their Chinese headings, in order.
    pub fn labelled(&self) -> [(&'static str, &str); 8] {
        [
            ("一、运营者及受影响的设施、系统", &self.operator_facility),
            ("二、事件发生时间、地点、类型、级别、影响及已采取的措施", &self.event),
            ("三、可能进一步造成的影响", &self.further_impact),
            ("四、初步原因分析", &self.cause),
            ("五、攻击者、攻击路径、漏洞等线索", &self.leads),
            ("六、拟采取的措施及需要的支持", &self.measures_help),
            ("七、现场和证据保护情况", &self.evidence),
            ("八、其他需要报告的情况", &self.other),
        ]
    }

    /// Items 1–2 always; for a closure report items 1–7; each within limits.
    pub fn check(&self, kind: ReportKind) -> Result<(), WorkflowError> {
        let required = if kind == ReportKind::Closure { 7 } else { 2 };
        for (i, (label, text)) in self.labelled().iter().enumerate() {
            if i < required && text.trim().is_empty() {
                return Err(WorkflowError::Invalid(format!("a {} report needs item {}: {label}", kind, i + 1)));
            }
            crate::check_text(&format!("item {}", i + 1), text, MAX_ITEM, false)?;
        }
        Ok(())
    }
}

/// Text made safe to place in HTML.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// What the printable report's heading shows.
pub struct Heading<'a> {
    pub number: &'a str,
    pub title: &'a str,
    pub unit_name: &'a str,
    pub level: Level,
    pub tlp: &'a str,
    pub kind: ReportKind,
    pub seq: i64,
    pub submitted_at: &'a str,
    pub submitted_by: &'a str,
}

/// A report as a printable, self-contained HTML page: every supplied text
/// escaped, no scripts, no outside resources.
pub fn printable(h: &Heading<'_>, items: &ReportItems) -> String {
    let e = escape_html;
    let mut body = String::new();
    for (label, text) in items.labelled() {
        let text = if text.trim().is_empty() { "（无）".to_string() } else { e(text).replace('\n', "<br>") };
        body.push_str(&format!("<h2>{label}</h2>\n<p>{text}</p>\n"));
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\">\n<head>\n<meta charset=\"utf-8\">\n<title>网络安全事件{kind}（{number}）</title>\n\
         <style>body{{font-family:serif;max-width:42em;margin:2em auto;line-height:1.6}}h1{{text-align:center;font-size:1.5em}}\
         h2{{font-size:1.05em;margin-top:1.2em}}table{{border-collapse:collapse;width:100%}}td{{border:1px solid #000;padding:.3em .5em}}\
         .tlp{{text-align:right;font-weight:bold}}@media print{{body{{margin:0}}}}</style>\n</head>\n<body>\n\
         <p class=\"tlp\">{tlp}</p>\n<h1>网络安全事件{kind}</h1>\n<table>\n\
         <tr><td>通报编号</td><td>{number}</td><td>报告次序</td><td>第 {seq} 次（{kind}）</td></tr>\n\
         <tr><td>事件</td><td colspan=\"3\">{title}</td></tr>\n\
         <tr><td>报告单位</td><td>{unit}</td><td>事件级别</td><td>{level}级</td></tr>\n\
         <tr><td>报告时间</td><td>{at}</td><td>报告人</td><td>{by}</td></tr>\n</table>\n{body}</body>\n</html>\n",
        kind = h.kind.name_zh(),
        number = e(h.number),
        tlp = e(h.tlp),
        seq = h.seq,
        title = e(h.title),
        unit = e(h.unit_name),
        level = h.level,
        at = e(h.submitted_at),
        by = e(h.submitted_by),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clocks_follow_the_2025_measures() {
        assert_eq!(OperatorClass::Cii.report_within(), 3_600);
        assert_eq!(OperatorClass::CentralOrgan.report_within(), 7_200);
        assert_eq!(OperatorClass::Other.report_within(), 14_400);
        assert_eq!(OperatorClass::Cii.escalate_within(), 1_800);
        assert_eq!(OperatorClass::Other.escalate_within(), 3_600);
        assert!(must_report(Level::III) && !must_report(Level::IV));
        assert!(must_escalate(Level::II) && !must_escalate(Level::III));
    }

    #[test]
    fn items_one_and_two_always_and_seven_for_closure() {
        let mut it = ReportItems { operator_facility: "某医院 HIS 系统".into(), ..Default::default() };
        assert!(it.check(ReportKind::First).unwrap_err().to_string().contains("item 2"));
        it.event = "2026-11-22 09:00 勒索软件加密，III 级".into();
        it.check(ReportKind::First).unwrap();
        assert!(it.check(ReportKind::Closure).unwrap_err().to_string().contains("item 3"));
        it.other = "x".repeat(MAX_ITEM + 1);
        assert!(it.check(ReportKind::First).is_err());
    }

    #[test]
    fn the_printable_report_escapes_everything_supplied() {
        let items = ReportItems {
            operator_facility: "<script>alert(1)</script>".into(),
            event: "line 1\nline \"2\" & more".into(),
            ..Default::default()
        };
        let h = Heading {
            number: "2026-0001",
            title: "<b>x</b>",
            unit_name: "某医院",
            level: Level::II,
            tlp: "TLP:AMBER",
            kind: ReportKind::First,
            seq: 1,
            submitted_at: "2026-11-22 10:00",
            submitted_by: "h1op",
        };
        let html = printable(&h, &items);
        assert!(!html.contains("<script>") && !html.contains("<b>x</b>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(html.contains("line 1<br>line &quot;2&quot; &amp; more"));
        assert!(html.contains("网络安全事件首报") && html.contains("II级") && html.contains("八、其他需要报告的情况"));
    }
}
