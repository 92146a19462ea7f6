//! The PNG charts' bitmap backend: plotters' own, except that text places each glyph at its pen position plus its
//! left side bearing. plotters 0.3.7's ab_glyph text path drops the bearing, so a narrow glyph with a wide bearing
//! ("1") was drawn flush left in its advance and "100/s" read as "1 00/s".

use ab_glyph::{Font, FontRef, ScaleFont};
use plotters::prelude::*;
use plotters_backend::{
    text_anchor::{HPos, VPos},
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind, FontStyle,
};

/// A `BitMapBackend` with correctly spaced text.
pub struct Bitmap<'a>(pub BitMapBackend<'a>);

fn face(style: FontStyle) -> FontRef<'static> {
    let bytes = match style {
        FontStyle::Bold => dejavu::sans::bold(),
        _ => dejavu::sans::regular(),
    };
    // Both faces are valid TrueType files bundled by the `dejavu` crate; failure would be a build defect.
    FontRef::try_from_slice(bytes).expect("the bundled DejaVu Sans parses")
}

type Result<T, B> = std::result::Result<T, DrawingErrorKind<<B as DrawingBackend>::ErrorType>>;

impl<'a> DrawingBackend for Bitmap<'a> {
    type ErrorType = <BitMapBackend<'a> as DrawingBackend>::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }
    fn ensure_prepared(&mut self) -> Result<(), Self> {
        self.0.ensure_prepared()
    }
    fn present(&mut self) -> Result<(), Self> {
        self.0.present()
    }
    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Self> {
        self.0.draw_pixel(point, color)
    }
    fn draw_line<S: BackendStyle>(&mut self, from: BackendCoord, to: BackendCoord, style: &S) -> Result<(), Self> {
        self.0.draw_line(from, to, style)
    }
    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Self> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }
    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Self> {
        self.0.draw_path(path, style)
    }
    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Self> {
        self.0.draw_circle(center, radius, style, fill)
    }
    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Self> {
        self.0.fill_polygon(vert, style)
    }
    fn blit_bitmap(&mut self, pos: BackendCoord, (iw, ih): (u32, u32), src: &[u8]) -> Result<(), Self> {
        self.0.blit_bitmap(pos, (iw, ih), src)
    }

    /// plotters-backend's own `draw_text` (layout box, anchor, rotation), with the glyphs laid out here.
    fn draw_text<S: BackendTextStyle>(&mut self, text: &str, style: &S, pos: BackendCoord) -> Result<(), Self> {
        let color = style.color();
        if color.alpha == 0.0 {
            return Ok(());
        }
        let ((min_x, min_y), (max_x, max_y)) =
            style.layout_box(text).map_err(|e| DrawingErrorKind::FontError(Box::new(e)))?;
        let (width, height) = (max_x - min_x, max_y - min_y);
        let dx = match style.anchor().h_pos {
            HPos::Left => 0,
            HPos::Right => -width,
            HPos::Center => -width / 2,
        };
        let dy = match style.anchor().v_pos {
            VPos::Top => 0,
            VPos::Center => -height / 2,
            VPos::Bottom => -height,
        };
        let trans = style.transform();
        let (w, h) = self.get_size();
        let size = style.size() as f32;
        let font = face(style.style());
        let font = font.as_scaled(size);
        let mut pen = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = font.glyph_id(c);
            if let Some(p) = prev {
                pen += font.kern(p, id);
            }
            prev = Some(id);
            if let Some(q) = font.outline_glyph(font.scaled_glyph(c)) {
                let rect = q.px_bounds();
                // The same vertical placement as plotters; horizontally the bearing (rect.min.x) is kept.
                let (ox, oy) = ((pen + rect.min.x).round() as i32, (size / 2.0 + rect.min.y) as i32);
                let mut pixels = Vec::new();
                q.draw(|x, y, coverage| pixels.push((x as i32 + ox, y as i32 + oy, coverage)));
                for (x, y, coverage) in pixels {
                    let (x, y) = trans.transform(x + dx - min_x, y + dy - min_y);
                    let (x, y) = (pos.0 + x, pos.1 + y);
                    if x >= 0 && x < w as i32 && y >= 0 && y < h as i32 {
                        let alpha = color.alpha * coverage as f64;
                        self.draw_pixel((x, y), BackendColor { alpha, rgb: color.rgb })?;
                    }
                }
            }
            pen += font.h_advance(id);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use plotters::style::IntoFont;

    /// Columns of a rendered string that hold ink.
    fn ink_columns(text: &str, spaced: bool) -> Vec<bool> {
        crate::export::chart::register_font();
        let (w, h) = (200u32, 40u32);
        let mut px = vec![255u8; (w * h * 3) as usize];
        {
            let style = (crate::export::chart::FONT, 15.0).into_font().color(&BLACK);
            if spaced {
                let mut b = Bitmap(BitMapBackend::with_buffer(&mut px, (w, h)));
                b.draw_text(text, &style, (10, 10)).unwrap();
                b.present().unwrap();
            } else {
                let mut b = BitMapBackend::with_buffer(&mut px, (w, h));
                b.draw_text(text, &style, (10, 10)).unwrap();
                b.present().unwrap();
            }
        }
        (0..w as usize).map(|x| (0..h as usize).any(|y| px[(y * w as usize + x) * 3] < 128)).collect()
    }

    #[test]
    fn a_glyph_keeps_its_left_side_bearing() {
        // "1" has a wide bearing in DejaVu Sans (225 of 2048 units): its ink starts that far right of the pen.
        let first = |spaced: bool| ink_columns("1", spaced).iter().position(|c| *c).unwrap() as f32;
        let font = face(FontStyle::Normal);
        let bearing = font.as_scaled(15.0).h_side_bearing(font.glyph_id('1'));
        assert!(bearing > 1.2, "{bearing}");
        let (ours, theirs) = (first(true), first(false));
        assert!((ours - (10.0 + bearing)).abs() <= 1.0, "ink starts at {ours}, pen 10 + bearing {bearing}");
        assert!(theirs < 10.0 + bearing - 1.0, "plotters' own text starts at {theirs}: the bearing dropped");
    }
}
