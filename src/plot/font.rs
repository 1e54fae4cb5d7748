//! The bundled font. PNG text is drawn with Open Sans (Apache-2.0, `assets/fonts/`) compiled into
//! the binary, registered with plotters' `ab_glyph` backend under the generic name `sans-serif`,
//! so charts render the same in a minimal container with no system fonts (docs/design.md §10). SVG
//! charts name `sans-serif` too and a browser uses its own sans-serif face; the layout (label
//! widths) is computed with the bundled font's metrics in both cases.

use std::sync::OnceLock;

use plotters::style::FontStyle;

/// Open Sans Regular, unmodified.
pub(crate) static OPEN_SANS: &[u8] = include_bytes!("../../assets/fonts/OpenSans-Regular.ttf");

/// The family every chart uses.
pub const FAMILY: &str = "sans-serif";

/// Registers the bundled font once per process. Every chart calls this before drawing: without
/// a registered font, plotters cannot even measure a label.
pub fn ensure_registered() -> anyhow::Result<()> {
    static REGISTERED: OnceLock<Result<(), String>> = OnceLock::new();
    REGISTERED
        .get_or_init(|| {
            plotters::style::register_font(FAMILY, FontStyle::Normal, OPEN_SANS)
                .map_err(|_| "the bundled font assets/fonts/OpenSans-Regular.ttf is not a valid TrueType font".to_string())
        })
        .clone()
        .map_err(anyhow::Error::msg)
}
