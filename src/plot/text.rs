//! Text for PNG charts. plotters' `ab_glyph` drawing places each glyph without its left side
//! bearing (so `10` prints as `1 0`) and rounds every advance; [`GlyphText`] wraps a bitmap
//! backend and draws text itself with the bundled font through `ab_glyph`: glyph outlines at
//! their exact positions with kerning, anti-aliased by their coverage. Layout (label widths,
//! anchors) keeps plotters' measurements, so charts look the same, only the letters are right.
//! Every other drawing call goes straight to the wrapped backend.

use std::sync::OnceLock;

use ab_glyph::{Font, FontRef, PxScale, ScaleFont, point};
use plotters_backend::text_anchor::{HPos, VPos};
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingBackend, DrawingErrorKind,
};

use super::font::OPEN_SANS;

/// The bundled font, parsed once.
fn font() -> Option<&'static FontRef<'static>> {
    static FONT: OnceLock<Option<FontRef<'static>>> = OnceLock::new();
    FONT.get_or_init(|| FontRef::try_from_slice(OPEN_SANS).ok())
        .as_ref()
}

/// A backend whose text is drawn by [`GlyphText::draw_text`]; everything else is `B`'s.
pub struct GlyphText<B: DrawingBackend>(pub B);

impl<B: DrawingBackend> DrawingBackend for GlyphText<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        self.0.get_size()
    }

    fn ensure_prepared(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.present()
    }

    fn draw_pixel(
        &mut self,
        point: BackendCoord,
        color: BackendColor,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_pixel(point, color)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_line(from, to, style)
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_rect(upper_left, bottom_right, style, fill)
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_path(path, style)
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.draw_circle(center, radius, style, fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.fill_polygon(vert, style)
    }

    fn blit_bitmap(
        &mut self,
        pos: BackendCoord,
        size: (u32, u32),
        src: &[u8],
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        self.0.blit_bitmap(pos, size, src)
    }

    fn draw_text<S: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &S,
        pos: BackendCoord,
    ) -> Result<(), DrawingErrorKind<Self::ErrorType>> {
        let color = style.color();
        let Some(font) = font() else {
            // Cannot happen with the bundled font; fall back to plotters' own drawing.
            return self.0.draw_text(text, style, pos);
        };
        if color.alpha == 0.0 || text.is_empty() {
            return Ok(());
        }
        // The same scale plotters measures with, so anchors match its layout.
        let scaled = font.as_scaled(PxScale::from(style.size() as f32));
        let mut glyphs = Vec::new();
        let mut x = 0f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                x += scaled.kern(p, id);
            }
            glyphs.push(id.with_scale_and_position(scaled.scale(), point(x, 0.0)));
            x += scaled.h_advance(id);
            prev = Some(id);
        }
        let width = x;
        // plotters lays a line of text out as a box `size / 1.24` high; the capitals are centred
        // in it (Open Sans: capital height 0.714 em).
        let em = scaled.scale().y * font.units_per_em().unwrap_or(2048.0) / font.height_unscaled();
        let half_cap = 0.714 * em / 2.0;
        let half_box = style.size() as f32 / 1.24 / 2.0;
        let dx = match style.anchor().h_pos {
            HPos::Left => 0.0,
            HPos::Center => -width / 2.0,
            HPos::Right => -width,
        };
        // Baseline relative to the anchor, which is the box's top, middle or bottom.
        let baseline = match style.anchor().v_pos {
            VPos::Top => half_box + half_cap,
            VPos::Center => half_cap,
            VPos::Bottom => half_cap - half_box,
        };
        let transform = style.transform();
        let (w, h) = self.0.get_size();
        for g in glyphs {
            let Some(outline) = scaled.outline_glyph(g) else {
                continue;
            };
            let bounds = outline.px_bounds();
            let mut pixels = Vec::new();
            outline.draw(|gx, gy, coverage| {
                if coverage > 0.02 {
                    let lx = (bounds.min.x + gx as f32 + dx).round() as i32;
                    let ly = (bounds.min.y + gy as f32 + baseline).round() as i32;
                    pixels.push((lx, ly, coverage));
                }
            });
            for (lx, ly, coverage) in pixels {
                let (tx, ty) = transform.transform(lx, ly);
                let (px, py) = (pos.0 + tx, pos.1 + ty);
                if px >= 0 && py >= 0 && (px as u32) < w && (py as u32) < h {
                    let c = BackendColor {
                        alpha: color.alpha * f64::from(coverage.min(1.0)),
                        rgb: color.rgb,
                    };
                    self.0.draw_pixel((px, py), c)?;
                }
            }
        }
        Ok(())
    }
}
