//! `tapir plot TRACE.csv -o out.svg`: one connection's trace as an SVG:
//! a time–sequence graph (SND.UNA and SND.NXT over time, as Wireshark's
//! tcptrace view) above cwnd, ssthresh and srtt over time.
//!
//! Contract: [`parse`] reads the `[trace] connections` CSV
//! ([`crate::trace::HEADER`]), naming the line of anything it cannot read;
//! [`plot`] is pure (CSV text in, SVG text out), drawn with plotters' SVG
//! backend. The connection is the one given, or the one with most events.

use std::collections::HashMap;

use plotters::prelude::*;

/// One trace line.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub time: f64,
    pub conn: String,
    pub state: String,
    pub snd_una: u64,
    pub snd_nxt: u64,
    pub cwnd: u64,
    pub ssthresh: Option<u64>,
    pub srtt_ms: Option<f64>,
    pub rto_ms: f64,
    pub in_flight: u64,
    pub rwnd: u64,
}

/// Read a trace; errors name the line.
pub fn parse(csv: &str) -> Result<Vec<Row>, String> {
    let mut rows = Vec::new();
    let mut lines = csv.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim_end() == crate::trace::HEADER.trim_end() => {}
        _ => {
            return Err(format!(
                "line 1: not a tapir trace (expected header {:?})",
                crate::trace::HEADER.trim_end()
            ))
        }
    }
    for (i, line) in lines {
        if line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(',').collect();
        let bad = |what: &str| format!("line {}: bad {what}: {line:?}", i + 1);
        if f.len() != 11 {
            return Err(bad("field count"));
        }
        let num = |s: &str, what: &str| s.parse::<u64>().map_err(|_| bad(what));
        let opt_num = |s: &str, what: &str| {
            if s.is_empty() {
                Ok(None)
            } else {
                num(s, what).map(Some)
            }
        };
        let float = |s: &str, what: &str| {
            s.parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or_else(|| bad(what))
        };
        rows.push(Row {
            time: float(f[0], "time")?,
            conn: f[1].to_owned(),
            state: f[2].to_owned(),
            snd_una: num(f[3], "snd_una")?,
            snd_nxt: num(f[4], "snd_nxt")?,
            cwnd: num(f[5], "cwnd")?,
            ssthresh: opt_num(f[6], "ssthresh")?,
            srtt_ms: if f[7].is_empty() {
                None
            } else {
                Some(float(f[7], "srtt")?)
            },
            rto_ms: float(f[8], "rto")?,
            in_flight: num(f[9], "in_flight")?,
            rwnd: num(f[10], "rwnd")?,
        });
    }
    Ok(rows)
}

/// The connection with most events.
pub fn busiest(rows: &[Row]) -> Option<String> {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for r in rows {
        *counts.entry(&r.conn).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map(|(c, _)| c.to_owned())
}

/// A step line through `points`: each value holds until the next sample
/// (a trace is sampled at ACKs; between them nothing changed).
fn steps(points: impl IntoIterator<Item = (f64, f64)>) -> Vec<(f64, f64)> {
    let mut out: Vec<(f64, f64)> = Vec::new();
    for (t, v) in points {
        if let Some(&(_, prev)) = out.last() {
            out.push((t, prev));
        }
        out.push((t, v));
    }
    out
}

/// Draw connection `conn` (or the busiest) of `csv` as SVG.
pub fn plot(csv: &str, conn: Option<&str>, title: Option<&str>) -> Result<String, String> {
    let rows = parse(csv)?;
    let conn = match conn {
        Some(c) => c.to_owned(),
        None => busiest(&rows).ok_or("the trace has no events")?,
    };
    let rows: Vec<&Row> = rows.iter().filter(|r| r.conn == conn).collect();
    if rows.is_empty() {
        return Err(format!("no events for connection {conn}"));
    }
    let t0 = rows[0].time;
    let t_end = (rows[rows.len() - 1].time - t0).max(1e-3);
    let seq_max = rows
        .iter()
        .map(|r| r.snd_nxt.max(r.snd_una))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 1024.0;
    let win_max = rows
        .iter()
        .map(|r| r.cwnd.max(r.ssthresh.unwrap_or(0)).max(r.in_flight))
        .max()
        .unwrap_or(1)
        .max(1) as f64
        / 1024.0;
    let rtt_max = rows.iter().filter_map(|r| r.srtt_ms).fold(1.0f64, f64::max);

    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1200, 900)).into_drawing_area();
        let e = |e: DrawingAreaErrorKind<_>| e.to_string();
        root.fill(&WHITE).map_err(e)?;
        let title = title.map_or_else(|| format!("tapir trace: {conn}"), str::to_owned);
        let root = root.titled(&title, ("sans-serif", 24)).map_err(e)?;
        let (top, bottom) = root.split_vertically(470);

        let mut seq = ChartBuilder::on(&top)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .caption(
                "time-sequence: SND.UNA and SND.NXT (KiB, relative to the ISS)",
                ("sans-serif", 18),
            )
            .build_cartesian_2d(0f64..t_end * 1.02, 0f64..seq_max * 1.05)
            .map_err(e)?;
        seq.configure_mesh()
            .x_desc("seconds")
            .y_desc("KiB")
            .draw()
            .map_err(e)?;
        seq.draw_series(rows.iter().map(|r| {
            Circle::new(
                (r.time - t0, r.snd_nxt as f64 / 1024.0),
                2,
                BLUE.mix(0.6).filled(),
            )
        }))
        .map_err(e)?
        .label("SND.NXT")
        .legend(|(x, y)| Circle::new((x + 10, y), 3, BLUE.filled()));
        seq.draw_series(LineSeries::new(
            steps(
                rows.iter()
                    .map(|r| (r.time - t0, r.snd_una as f64 / 1024.0)),
            ),
            RED.stroke_width(2),
        ))
        .map_err(e)?
        .label("SND.UNA (acked)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.stroke_width(2)));
        seq.configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;

        let mut win = ChartBuilder::on(&bottom)
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(80)
            .right_y_label_area_size(80)
            .caption(
                "cwnd, ssthresh, in flight (KiB) and srtt (ms)",
                ("sans-serif", 18),
            )
            .build_cartesian_2d(0f64..t_end * 1.02, 0f64..win_max * 1.1)
            .map_err(e)?
            .set_secondary_coord(0f64..t_end * 1.02, 0f64..rtt_max * 1.2);
        win.configure_mesh()
            .x_desc("seconds")
            .y_desc("KiB")
            .draw()
            .map_err(e)?;
        win.configure_secondary_axes()
            .y_desc("srtt ms")
            .draw()
            .map_err(e)?;
        win.draw_series(LineSeries::new(
            steps(rows.iter().map(|r| (r.time - t0, r.cwnd as f64 / 1024.0))),
            BLUE.stroke_width(2),
        ))
        .map_err(e)?
        .label("cwnd")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.stroke_width(2)));
        win.draw_series(LineSeries::new(
            steps(
                rows.iter()
                    .filter_map(|r| r.ssthresh.map(|s| (r.time - t0, s as f64 / 1024.0))),
            ),
            GREEN.stroke_width(2),
        ))
        .map_err(e)?
        .label("ssthresh")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], GREEN.stroke_width(2)));
        win.draw_series(LineSeries::new(
            steps(
                rows.iter()
                    .map(|r| (r.time - t0, r.in_flight as f64 / 1024.0)),
            ),
            BLACK.mix(0.4),
        ))
        .map_err(e)?
        .label("in flight")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLACK.mix(0.4)));
        win.draw_secondary_series(LineSeries::new(
            steps(
                rows.iter()
                    .filter_map(|r| r.srtt_ms.map(|s| (r.time - t0, s))),
            ),
            MAGENTA.stroke_width(2),
        ))
        .map_err(e)?
        .label("srtt (right axis)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], MAGENTA.stroke_width(2)));
        win.configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .draw()
            .map_err(e)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> String {
        let mut csv = crate::trace::HEADER.to_owned();
        for i in 0..50u64 {
            let ss = if i > 25 { "20000" } else { "" };
            csv.push_str(&format!(
                "{}.{:06},10.7.0.1:5000,ESTAB,{},{},{},{ss},{:.3},201.000,{},65535\n",
                1 + i / 10,
                (i % 10) * 100_000,
                i * 1448,
                i * 1448 + 14480,
                14480 + i * 100,
                1.0 + i as f64 / 10.0,
                14480
            ));
        }
        csv.push_str("9.000000,10.7.0.1:6000,ESTAB,1,1,14480,,,200.000,0,65535\n");
        csv
    }

    #[test]
    fn parses_and_picks_the_busiest_connection() {
        let rows = parse(&trace()).unwrap();
        assert_eq!(rows.len(), 51);
        assert_eq!(rows[26].ssthresh, Some(20000));
        assert_eq!(rows[0].ssthresh, None);
        assert_eq!(rows[50].srtt_ms, None);
        assert_eq!(busiest(&rows).as_deref(), Some("10.7.0.1:5000"));
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert!(parse("a,b\n")
            .unwrap_err()
            .starts_with("line 1: not a tapir trace"));
        let bad = format!("{}1.0,x,ESTAB,1,2,3,,,4.0,5\n", crate::trace::HEADER);
        assert_eq!(
            parse(&bad).unwrap_err(),
            "line 2: bad field count: \"1.0,x,ESTAB,1,2,3,,,4.0,5\""
        );
        let bad = format!("{}NaN,x,ESTAB,1,2,3,,,4.0,5,6\n", crate::trace::HEADER);
        assert!(parse(&bad).unwrap_err().starts_with("line 2: bad time"));
        assert_eq!(
            plot(crate::trace::HEADER, None, None).unwrap_err(),
            "the trace has no events"
        );
        assert_eq!(
            plot(&trace(), Some("1.2.3.4:5"), None).unwrap_err(),
            "no events for connection 1.2.3.4:5"
        );
    }

    #[test]
    fn step_lines_hold_values_between_samples() {
        assert_eq!(
            steps([(0.0, 1.0), (2.0, 5.0), (3.0, 4.0)]),
            vec![(0.0, 1.0), (2.0, 1.0), (2.0, 5.0), (3.0, 5.0), (3.0, 4.0)]
        );
        assert!(steps([]).is_empty());
    }

    #[test]
    fn draws_an_svg_with_both_panels() {
        let svg = plot(&trace(), None, None).unwrap();
        assert!(svg.starts_with("<svg"), "{}", &svg[..100]);
        assert!(svg.contains("time-sequence"));
        assert!(svg.contains("cwnd"));
        assert!(svg.contains("srtt"));
        assert!(svg.matches("<circle").count() >= 50, "one dot per event");
        assert!(svg.contains("<polyline"));
        // A single event still draws (degenerate ranges are widened).
        let one = plot(&trace(), Some("10.7.0.1:6000"), Some("t")).unwrap();
        assert!(one.contains("<svg"));
    }
}
