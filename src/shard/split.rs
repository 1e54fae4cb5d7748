//! How a load is shared among N shards: whole numbers (closed-loop users, `--requests`,
//! `--max-in-flight`) as evenly as possible, the remainder one each to the lowest indices, so
//! the shares always add up to the whole; an open-loop rate in N equal parts. A shard left with
//! nothing to do is an error naming the flag and the fix, never a silent idle process.

use super::Shard;
use super::flag_err;
use super::record::WholeLoad;
use crate::result::LoadPoint;
use crate::scenario::Scenario;

/// Shard `index`'s share of `total` among `count` shards: `total / count`, plus one for the
/// first `total % count` shards.
pub fn share(total: u64, shard: Shard) -> u64 {
    let count = u64::from(shard.count.max(1));
    let index = u64::from(shard.index);
    total / count + u64::from(index < total % count)
}

/// Shard `index`'s share of a rate: an N-th.
pub fn share_rate(rate: f64, shard: Shard) -> f64 {
    rate / f64::from(shard.count.max(1))
}

fn whole_share(flag: &'static str, what: &str, total: u64, shard: Shard) -> anyhow::Result<u64> {
    let n = share(total, shard);
    if n == 0 {
        return Err(flag_err(
            flag,
            format!(
                "{total} {what} over {} shards leaves shard {} with none: give at least {} \
                 (one per shard) or run fewer shards",
                shard.count, shard.index, shard.count
            ),
        ));
    }
    Ok(n)
}

/// Replaces a plan's load (its points and the scenario's `[load]`) by this shard's share;
/// returns the whole load as it was.
pub fn apply(
    points: &mut [LoadPoint],
    scenario: &mut Scenario,
    shard: Shard,
) -> anyhow::Result<WholeLoad> {
    let whole = WholeLoad {
        points: points.to_vec(),
        requests: scenario.load.requests,
    };
    for p in points.iter_mut() {
        match p.rate {
            Some(rate) => {
                p.rate = Some(share_rate(rate, shard));
                if let Some(cap) = p.max_in_flight {
                    let n = whole_share("--max-in-flight", "in flight", cap as u64, shard)?;
                    p.max_in_flight = Some(n as usize);
                }
            }
            None => {
                let n = whole_share("--concurrency", "users", p.concurrency as u64, shard)?;
                p.concurrency = n as usize;
            }
        }
    }
    let load = &mut scenario.load;
    if let Some(n) = load.requests {
        load.requests = Some(whole_share("--requests", "requests", n, shard)?);
    }
    // The scenario as recorded describes this shard's load (what it ran).
    match (points.first(), load.rate) {
        (Some(p), Some(_)) if p.rate.is_some() => {
            load.rate = p.rate;
            load.max_in_flight = p.max_in_flight;
        }
        (Some(p), None) => load.concurrency = p.concurrency.max(1),
        _ => {}
    }
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shards(count: u32) -> impl Iterator<Item = Shard> {
        (0..count).map(move |index| Shard { index, count })
    }

    #[test]
    fn shares_add_up_to_the_whole_and_differ_by_at_most_one() {
        for total in 0..=200u64 {
            for count in 1..=12u32 {
                let parts: Vec<u64> = shards(count).map(|s| share(total, s)).collect();
                assert_eq!(parts.iter().sum::<u64>(), total, "{total} over {count}");
                let (lo, hi) = (parts.iter().min(), parts.iter().max());
                assert!(hi.zip(lo).is_some_and(|(h, l)| h - l <= 1), "{parts:?}");
                // Remainders go to the lowest indices: the shares never increase.
                assert!(parts.windows(2).all(|w| w[0] >= w[1]), "{parts:?}");
            }
        }
        assert_eq!(
            share(10_000_000_007, Shard { index: 0, count: 7 }),
            1_428_571_430
        );
    }

    #[test]
    fn rates_split_evenly() {
        for count in 1..=9u32 {
            let sum: f64 = shards(count).map(|s| share_rate(250.0, s)).sum();
            assert!((sum - 250.0).abs() < 1e-9);
        }
    }

    /// A plan's load: its points and scenario.
    struct Plan {
        points: Vec<LoadPoint>,
        scenario: Scenario,
    }

    fn plan(points: Vec<LoadPoint>, requests: Option<u64>) -> Plan {
        let mut scenario = Scenario::default();
        scenario.load.requests = requests;
        Plan { points, scenario }
    }

    fn apply(p: &mut Plan, shard: Shard) -> anyhow::Result<WholeLoad> {
        super::apply(&mut p.points, &mut p.scenario, shard)
    }

    #[test]
    fn a_plan_is_split_and_the_whole_is_kept() {
        let mut users = 0;
        let mut requests = 0;
        for s in shards(3) {
            let mut p = plan(vec![LoadPoint::closed(10)], Some(100));
            let whole = apply(&mut p, s).expect("split");
            assert_eq!(whole.points[0].concurrency, 10);
            assert_eq!(whole.requests, Some(100));
            users += p.points[0].concurrency;
            requests += p.scenario.load.requests.unwrap_or(0);
            assert_eq!(p.scenario.load.concurrency, p.points[0].concurrency);
        }
        assert_eq!((users, requests), (10, 100));
    }

    #[test]
    fn an_open_loop_splits_its_rate_and_its_cap() {
        let point = LoadPoint {
            mode: "open".into(),
            concurrency: 0,
            rate: Some(90.0),
            arrivals: Some("poisson".into()),
            max_in_flight: Some(5),
        };
        let mut caps = 0;
        for s in shards(3) {
            let mut p = plan(vec![point.clone()], None);
            apply(&mut p, s).expect("split");
            assert_eq!(p.points[0].rate, Some(30.0));
            caps += p.points[0].max_in_flight.unwrap_or(0);
        }
        assert_eq!(caps, 5);
    }

    #[test]
    fn a_shard_with_nothing_to_do_is_an_error_naming_the_flag() {
        let s = Shard { index: 3, count: 4 };
        let e = apply(&mut plan(vec![LoadPoint::closed(3)], None), s).expect_err("0 users");
        let e = format!("{e:#}");
        assert!(
            e.starts_with("--concurrency:") && e.contains("at least 4"),
            "{e}"
        );
        let e = apply(&mut plan(vec![LoadPoint::closed(8)], Some(2)), s).expect_err("0 requests");
        assert!(format!("{e:#}").starts_with("--requests:"), "{e:#}");
    }
}
