//! The SVGs' own font: a subset of the bundled DejaVu Sans (regular and bold, only the glyphs of the characters the
//! chart's text uses) embedded as `@font-face` `data:` URLs, so an SVG renders the same on a machine without the font.
//!
//! Each SVG names its subset `loadtest DejaVu Sans <hash of its characters>`, first in every text's `font-family`:
//! the embedded face wins over any installed one, and two SVGs inlined in one page never mix their subsets. A page
//! that inlines several SVGs (`share`) defines one subset for all of them in its own stylesheet instead.

use super::chart::{ChartError, FONT};
use allsorts::binary::read::ReadScope;
use allsorts::binary::write::{WriteBinary, WriteBuffer};
use allsorts::error::ParseError;
use allsorts::font_data::FontData;
use allsorts::subset::{subset, CmapTarget, SubsetProfile};
use allsorts::tables::{owned, FontTableProvider, NameTable};
use allsorts::tag;
use base64::Engine;
use sha2::Digest;
use std::borrow::Cow;
use std::collections::BTreeSet;

/// The start of every embedded family name.
pub const FAMILY: &str = "loadtest DejaVu Sans";

/// The characters of the texts set in the charts' font: (regular, bold).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Chars {
    pub regular: BTreeSet<char>,
    pub bold: BTreeSet<char>,
}

impl Chars {
    fn is_empty(&self) -> bool {
        self.regular.is_empty() && self.bold.is_empty()
    }
    /// The family name of this set's subset: the same characters give the same name (and the same font).
    fn family(&self) -> String {
        let mut h = sha2::Sha256::new();
        for (faces, set) in [("r", &self.regular), ("b", &self.bold)] {
            h.update(faces);
            h.update(set.iter().collect::<String>());
        }
        let hex: String = h.finalize()[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("{FAMILY} {hex}")
    }
}

/// One `<text>` element of an SVG written by plotters: its open tag, and its text, unescaped.
struct Text<'a> {
    tag: &'a str,
    content: String,
}

/// The `<text>` elements of `svg` (plotters writes each on its own: `<text attr="..">escaped text</text>`).
fn texts(svg: &str) -> Vec<Text<'_>> {
    let mut out = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text ") {
        let tail = &rest[start..];
        let Some(open) = tail.find('>') else { break };
        let Some(close) = tail[open..].find("</text>") else { break };
        out.push(Text { tag: &tail[..=open], content: unescape(&tail[open + 1..open + close]) });
        rest = &tail[open + close..];
    }
    out
}

/// Undoes plotters' escaping of text (`&lt; &gt; &amp; &quot; &apos;`).
fn unescape(s: &str) -> String {
    s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&apos;", "'").replace("&amp;", "&")
}

/// The characters of `svg`'s texts in the charts' font (before or after `embed`).
pub fn chars(svg: &str) -> Chars {
    let mut chars = Chars::default();
    for t in texts(svg) {
        if !t.tag.contains(&format!("{FONT}\"")) {
            continue;
        }
        let set = if t.tag.contains("font-weight=\"bold\"") { &mut chars.bold } else { &mut chars.regular };
        set.extend(t.content.chars().filter(|c| !c.is_control()));
    }
    chars
}

/// A font's tables, but its `name` table with only the Windows-platform records: the Macintosh ones repeat them
/// (DejaVu's licence text, 4.7 kB, among them), and browsers read the Windows ones.
struct WindowsNames<P> {
    font: P,
    name: Vec<u8>,
}

impl<P: FontTableProvider> WindowsNames<P> {
    fn new(font: P) -> Result<Self, ChartError> {
        let data = font.read_table_data(tag::NAME).map_err(|e| err(&e))?;
        let table = ReadScope::new(&data).read::<NameTable<'_>>().map_err(|e| err(&e))?;
        let mut owned = owned::NameTable::try_from(&table).map_err(|e| err(&e))?;
        owned.name_records.retain(|r| r.platform_id == 3);
        let mut buf = WriteBuffer::new();
        owned::NameTable::write(&mut buf, &owned).map_err(|e| err(&e))?;
        Ok(WindowsNames { name: buf.into_inner(), font })
    }
}

impl<P: FontTableProvider> FontTableProvider for WindowsNames<P> {
    fn table_data(&self, t: u32) -> Result<Option<Cow<'_, [u8]>>, ParseError> {
        if t == tag::NAME {
            return Ok(Some(Cow::Borrowed(&self.name)));
        }
        self.font.table_data(t)
    }
    fn has_table(&self, t: u32) -> bool {
        self.font.has_table(t)
    }
    fn table_tags(&self) -> Option<Vec<u32>> {
        self.font.table_tags()
    }
}

fn err(e: &dyn std::fmt::Display) -> ChartError {
    ChartError(format!("embedding DejaVu Sans in an SVG: {e}"))
}

/// DejaVu Sans (`bold` or regular) reduced to the glyphs of `chars`, with a Unicode cmap (browsers need one), the
/// font's names (its copyright and licence among them) and its hinting; characters the font lacks are left out. No
/// `GPOS` or `kern` table: browsers do not kern the subset (plotters' layout does, by a pixel or so in a few pairs).
pub fn subset_face(bold: bool, chars: &BTreeSet<char>) -> Result<Vec<u8>, ChartError> {
    use ab_glyph::Font;
    let bytes = if bold { dejavu::sans::bold() } else { dejavu::sans::regular() };
    let face = ab_glyph::FontRef::try_from_slice(bytes).map_err(|e| err(&e))?;
    let mut ids: Vec<u16> = chars.iter().map(|c| face.glyph_id(*c).0).filter(|id| *id != 0).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.insert(0, 0);
    let data = ReadScope::new(bytes).read::<FontData<'_>>().map_err(|e| err(&e))?;
    let provider = WindowsNames::new(data.table_provider(0).map_err(|e| err(&e))?)?;
    // The tables a standalone font needs, and the hinting tables its glyphs' instructions refer to.
    let tables = [tag::CMAP, tag::HEAD, tag::HHEA, tag::HMTX, tag::MAXP, tag::NAME, tag::OS_2, tag::POST];
    let profile = SubsetProfile::Custom([&tables[..], &[tag::CVT, tag::FPGM, tag::PREP]].concat());
    subset(&provider, &ids, &profile, CmapTarget::Unicode).map_err(|e| err(&e))
}

/// The `@font-face` rules of `family` for `chars`.
fn font_faces(family: &str, chars: &Chars) -> Result<String, ChartError> {
    let mut css = String::new();
    for (bold, set) in [(false, &chars.regular), (true, &chars.bold)] {
        if set.is_empty() {
            continue;
        }
        let font = base64::engine::general_purpose::STANDARD.encode(subset_face(bold, set)?);
        css.push_str(&format!(
            "@font-face {{ font-family: \"{family}\"; font-weight: {}; font-style: normal; \
             src: url(data:font/ttf;base64,{font}) format(\"truetype\"); }}\n",
            if bold { "bold" } else { "normal" }
        ));
    }
    Ok(css)
}

/// Sets every text in the charts' font in `family` first.
fn use_family(svg: &str, family: &str) -> String {
    svg.replace(&format!("font-family=\"{FONT}\""), &format!("font-family=\"'{family}', {FONT}\""))
}

/// Marks the `<style>` element `embed` adds, so `share` can find it.
const STYLE_OPEN: &str = "<defs><style id=\"loadtest-font\">\n";
const STYLE_CLOSE: &str = "</style></defs>\n";

/// `svg` (as plotters wrote it) with its subset embedded and its texts set in it.
pub fn embed(svg: String) -> Result<String, ChartError> {
    let chars = chars(&svg);
    if chars.is_empty() {
        return Ok(svg);
    }
    let family = chars.family();
    let css = font_faces(&family, &chars)?;
    let svg = use_family(&svg, &family);
    // Right after the root's open tag, so the face is defined before any text.
    let root = svg.find("<svg").and_then(|i| svg[i..].find('>').map(|j| i + j + 1));
    let Some(at) = root else { return Err(ChartError("an SVG without its root element".into())) };
    Ok(format!("{}\n{STYLE_OPEN}{css}{STYLE_CLOSE}{}", &svg[..at], svg[at..].trim_start_matches('\n')))
}

/// For a page that inlines SVGs from `embed` (`html`, the page's body): one `@font-face` set for all of them, for
/// the page's stylesheet, and the body without the SVGs' own, their texts set in the shared subset.
pub fn share(html: &str) -> Result<(String, String), ChartError> {
    let all = chars(html);
    if all.is_empty() {
        return Ok((String::new(), html.to_string()));
    }
    let family = all.family();
    let mut body = String::with_capacity(html.len());
    let mut rest = html;
    while let Some(start) = rest.find(STYLE_OPEN) {
        body.push_str(&rest[..start]);
        let len = rest[start..].find(STYLE_CLOSE).map_or(STYLE_OPEN.len(), |l| l + STYLE_CLOSE.len());
        rest = &rest[start + len..];
    }
    body.push_str(rest);
    // Each SVG's own family name, `'loadtest DejaVu Sans <hash>', `, gives way to the shared one.
    let own = format!("font-family=\"'{FAMILY} ");
    let mut out = String::with_capacity(body.len());
    let mut rest = body.as_str();
    while let Some(i) = rest.find(&own) {
        out.push_str(&rest[..i]);
        out.push_str("font-family=\"");
        let after = &rest[i + own.len()..];
        rest = &after[after.find("', ").map_or(0, |j| j + 3)..];
    }
    out.push_str(rest);
    Ok((font_faces(&family, &all)?, use_family(&out, &family)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn svg(texts: &[(&str, bool)]) -> String {
        let mut s = String::from(
            "<svg width=\"10\" height=\"10\" viewBox=\"0 0 10 10\" xmlns=\"http://www.w3.org/2000/svg\">\n",
        );
        for (t, bold) in texts {
            let weight = if *bold { " font-weight=\"bold\"" } else { "" };
            s.push_str(&format!("<text x=\"1\" y=\"2\" font-family=\"{FONT}\" font-size=\"12\"{weight}>{t}</text>\n"));
        }
        s.push_str("</svg>\n");
        s
    }

    #[test]
    fn chars_read_texts_by_weight_and_unescape_them() {
        let c = chars(&svg(&[("a &lt;b&amp;", false), ("Tz", true)]));
        assert_eq!(c.regular.iter().collect::<String>(), " &<ab");
        assert_eq!(c.bold.iter().collect::<String>(), "Tz");
    }

    #[test]
    fn the_subset_keeps_only_the_glyphs_asked_for() {
        use ab_glyph::Font;
        let font = subset_face(false, &"ab µ—".chars().collect()).unwrap();
        let face = ab_glyph::FontRef::try_from_slice(&font).unwrap();
        for c in "ab µ—".chars() {
            assert_ne!(face.glyph_id(c).0, 0, "no glyph for {c:?}");
        }
        assert_eq!(face.glyph_id('c').0, 0);
        // .notdef and five glyphs, where the whole font has thousands.
        assert_eq!(face.glyph_count(), 6);
        assert!(font.len() < dejavu::sans::regular().len() / 20, "{} bytes", font.len());
    }

    #[test]
    fn embedding_names_the_subset_first_and_sharing_defines_it_once() {
        let a = embed(svg(&[("ab", false), ("T", true)])).unwrap();
        let b = embed(svg(&[("cd", false)])).unwrap();
        let fa = chars(&svg(&[("ab", false), ("T", true)])).family();
        assert!(a.contains(&format!("font-family=\"'{fa}', {FONT}\"")), "{a}");
        assert_eq!(a.matches("@font-face").count(), 2);
        assert!(a.find(STYLE_OPEN).unwrap() < a.find("<text").unwrap());
        assert_eq!(chars(&a), chars(&svg(&[("ab", false), ("T", true)])), "embedding keeps the texts readable");
        let (css, page) = share(&format!("<p>one</p>\n{a}<p>two</p>\n{b}")).unwrap();
        assert_eq!(css.matches("@font-face").count(), 2);
        let shared = chars(&svg(&[("abcd", false), ("T", true)])).family();
        assert!(css.contains(&shared));
        assert!(!page.contains("@font-face") && !page.contains(&fa), "{page}");
        assert_eq!(page.matches(&format!("font-family=\"'{shared}', {FONT}\"")).count(), 3, "{page}");
        assert!(page.contains("<p>one</p>\n<svg") && page.contains("<p>two</p>\n<svg"), "{page}");
    }
}
