//! A small bar chart as inline SVG, drawn on the server (the stats page works without JavaScript).

use std::fmt::Write;

/// Bars of `(label, value)`, labelled under each bar and with the largest value at the top.
pub fn bars(points: &[(String, i64)]) -> String {
    const W: usize = 640;
    const H: usize = 180;
    const BOTTOM: usize = 24;
    let max = points.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let n = points.len().max(1);
    let slot = W / n;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"messages per day\" \
         xmlns=\"http://www.w3.org/2000/svg\" style=\"background:#fff;max-width:{W}px\">"
    );
    let _ = write!(
        svg,
        "<text x=\"4\" y=\"12\" font-size=\"11\" fill=\"#667\">{max}</text>"
    );
    for (i, (label, value)) in points.iter().enumerate() {
        let height = ((H - BOTTOM - 16) as i64 * value / max) as usize;
        let x = i * slot + slot / 6;
        let y = H - BOTTOM - height;
        let width = slot * 2 / 3;
        let _ = write!(
            svg,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{height}\" fill=\"#6a3fb5\">\
             <title>{label}: {value}</title></rect>\
             <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#667\">{label}</text>",
            x + width / 2,
            H - 8
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tallest_bar_is_the_largest_value() {
        let svg = bars(&[("01".into(), 2), ("02".into(), 4), ("03".into(), 0)]);
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect").count(), 3);
        assert!(svg.contains("height=\"140\""), "{svg}");
        assert!(svg.contains("height=\"70\""), "{svg}");
        assert!(svg.contains("<title>03: 0</title>"));
    }
}
