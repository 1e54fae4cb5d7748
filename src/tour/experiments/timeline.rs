//! The request-timeline chart several experiments show (one row per request, its phases).

use crate::plot::{Chart, ChartKind, TIMELINE_WIDTH, timeline};
use crate::tour::model::{self};
use crate::tour::{ChartSource, ChartSpec, Measured};

/// Height of the shortest timeline chart, pixels: room for its legend of phases.
pub const MIN_TIMELINE_HEIGHT: u32 = 360;

/// A request-timeline chart of the report module for `variant` at `c=users` of `step`.
pub fn timeline_chart(
    step: &str,
    variant: &str,
    users: usize,
    title: &str,
    caption: &str,
    m: &Measured,
) -> ChartSpec {
    let point = model::closed(users);
    let rows = m
        .get(step)
        .map(|r| timeline::rows(r, variant, &point).len())
        .unwrap_or(1);
    ChartSpec {
        name: format!("timeline_{variant}"),
        caption: caption.into(),
        source: ChartSource::Plot {
            step: step.into(),
            chart: Chart {
                name: format!("timeline_{variant}"),
                title: title.into(),
                // Never shorter than the phase legend beside the rows.
                size: (
                    TIMELINE_WIDTH,
                    timeline::height(rows).max(MIN_TIMELINE_HEIGHT),
                ),
                kind: ChartKind::Timeline {
                    variant: variant.into(),
                    point,
                },
            },
        },
    }
}
