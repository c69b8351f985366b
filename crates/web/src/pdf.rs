//! The notice document as a PDF: A4, the same content as the printable
//! page, text embedded (searchable, copyable) in a CJK font subset into the
//! file. The font is the system's: `SHOUWANG_PDF_FONT` (a TrueType or
//! OpenType file or collection, `path` or `path#index`), else the first of
//! the usual Debian CJK fonts that exists. Nothing is bundled.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use krilla::Document;
use krilla::geom::Point;
use krilla::page::PageSettings;
use krilla::text::{Font, TextDirection};

/// Where Debian (and most Linux distributions) put CJK fonts.
const FONT_PATHS: [&str; 5] = [
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc",
    "/usr/share/fonts/truetype/arphic/uming.ttc",
];

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN: f32 = 64.0;

/// One piece of the document, laid out top to bottom.
pub enum Block {
    /// Centred, large.
    Title(String),
    /// Right-aligned, small: the TLP label, the print time.
    Right(String),
    Heading(String),
    Text(String),
    Gap,
}

type FontData = (Arc<Vec<u8>>, u32);

/// The font file, read once. `None` when there is none: the caller says so.
pub fn font() -> Option<&'static FontData> {
    static FONT: OnceLock<Option<FontData>> = OnceLock::new();
    FONT.get_or_init(|| {
        let (path, index) = match std::env::var("SHOUWANG_PDF_FONT") {
            Ok(v) => match v.rsplit_once('#') {
                Some((p, i)) => (p.to_string(), i.parse().unwrap_or(0)),
                None => (v, 0),
            },
            Err(_) => (FONT_PATHS.iter().find(|p| Path::new(p).exists())?.to_string(), 0),
        };
        match std::fs::read(&path) {
            Ok(bytes) => Some((Arc::new(bytes), index)),
            Err(e) => {
                tracing::warn!(%path, error = %e, "no font for PDF notices");
                None
            }
        }
    })
    .as_ref()
}

/// An estimate of a line's width in ems: the CJK fonts above set Han and
/// full-width characters at one em and Latin at about half.
fn ems(s: &str) -> f32 {
    s.chars().map(|c| if c.is_ascii() { 0.55 } else { 1.0 }).sum()
}

/// Breaks text into lines at most `width` points wide at `size`: at any
/// character between Han characters, at spaces between Latin words.
fn wrap(text: &str, size: f32, width: f32) -> Vec<String> {
    let max = width / size;
    let mut lines = Vec::new();
    for para in text.lines() {
        let mut line = String::new();
        for c in para.chars() {
            line.push(c);
            if ems(&line) > max {
                let cut = match line.rfind(' ') {
                    // Break a Latin word at the space before it, if there is one near.
                    Some(i) if c.is_ascii_alphanumeric() && line.len() - i < 40 && i > 0 => i,
                    _ => line.len() - c.len_utf8(),
                };
                let rest = line.split_off(cut);
                lines.push(std::mem::take(&mut line));
                line = rest.trim_start().to_string();
            }
        }
        lines.push(line);
    }
    lines
}

/// One positioned line: (x, baseline y, size, text).
type Placed = (f32, f32, f32, String);

fn layout(blocks: &[Block]) -> Vec<Vec<Placed>> {
    let width = PAGE_W - 2.0 * MARGIN;
    let mut pages: Vec<Vec<Placed>> = vec![Vec::new()];
    let mut y = MARGIN;
    let place = |pages: &mut Vec<Vec<Placed>>, y: &mut f32, size: f32, line: String, x: f32| {
        let height = size * 1.6;
        if *y + height > PAGE_H - MARGIN {
            pages.push(Vec::new());
            *y = MARGIN;
        }
        *y += height;
        pages.last_mut().expect("a page").push((x, *y - size * 0.4, size, line));
    };
    for b in blocks {
        match b {
            Block::Title(t) => {
                for l in wrap(t, 20.0, width) {
                    let x = MARGIN + ((width - ems(&l) * 20.0) / 2.0).max(0.0);
                    place(&mut pages, &mut y, 20.0, l, x);
                }
            }
            Block::Right(t) => {
                for l in wrap(t, 9.0, width) {
                    let x = MARGIN + (width - ems(&l) * 9.0).max(0.0);
                    place(&mut pages, &mut y, 9.0, l, x);
                }
            }
            Block::Heading(t) => {
                y += 6.0;
                for l in wrap(t, 13.0, width) {
                    place(&mut pages, &mut y, 13.0, l, MARGIN);
                }
            }
            Block::Text(t) => {
                for l in wrap(t, 11.0, width) {
                    place(&mut pages, &mut y, 11.0, l, MARGIN);
                }
            }
            Block::Gap => y += 10.0,
        }
    }
    pages
}

/// The document's bytes.
pub fn render(font: &FontData, blocks: &[Block]) -> Result<Vec<u8>, String> {
    let font = Font::new(font.0.clone().into(), font.1).ok_or("the PDF font cannot be read")?;
    let settings = PageSettings::from_wh(PAGE_W, PAGE_H).ok_or("page size")?;
    let mut doc = Document::new();
    for lines in layout(blocks) {
        let mut page = doc.start_page_with(settings.clone());
        let mut surface = page.surface();
        for (x, y, size, text) in lines.iter().filter(|l| !l.3.is_empty()) {
            surface.draw_text(Point::from_xy(*x, *y), font.clone(), *size, text, false, TextDirection::Auto);
        }
        surface.finish();
        page.finish();
    }
    doc.finish().map_err(|e| format!("{e:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_within_the_page_and_keep_every_character() {
        let text = "请立即核查所列资产，处置事件，消除影响。".repeat(6)
            + " Apache log4j RCE Attempt (CVE-2021-44228) on https://www.u00042.yunling.example/index.php";
        let lines = wrap(&text, 11.0, PAGE_W - 2.0 * MARGIN);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| ems(l) * 11.0 <= PAGE_W - 2.0 * MARGIN + 0.01), "{lines:?}");
        let joined: String = lines.concat();
        assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
        // Latin words are not split when a space is near.
        assert!(lines.iter().all(|l| !l.ends_with("Atte")));
        // A long text runs onto a second page.
        let blocks: Vec<Block> = (0..80).map(|i| Block::Text(format!("第 {i} 行"))).collect();
        assert_eq!(layout(&blocks).len(), 2);
    }
}
