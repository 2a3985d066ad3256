//! Cost and placement on fixture prices. moto's spot prices are fake (0.00001 everywhere), so
//! placement is tested on quotes made up here.

use super::*;

fn quote(region: &str, az: &str, t: &str, p: f64) -> SpotQuote {
    SpotQuote {
        region: region.into(),
        availability_zone: az.into(),
        instance_type: t.into(),
        usd_per_hour: p,
        timestamp: "2026-11-23T00:00:00Z".into(),
    }
}

#[test]
fn the_embedded_catalog_parses_and_is_dated() {
    let c = catalog();
    assert_eq!(c.date, "2025-01-15");
    assert!(c.instance_types.len() >= 15);
    for (region, prices) in &c.on_demand_hourly {
        for t in prices.keys() {
            assert!(
                c.instance_types.contains_key(t),
                "{region}: {t} has a price but no type info"
            );
        }
    }
    assert_eq!(c.on_demand("us-east-1", "g4dn.xlarge"), Some(0.526));
}

#[test]
fn estimate_breaks_down_compute_storage_network_with_sources() {
    let e = estimate(
        "us-east-1",
        &[InstanceLine {
            instance_type: "t3.medium".into(),
            count: 2,
            spot: false,
            quote: None,
            public_ip: true,
        }],
        &[VolumeLine {
            volume_type: "gp3".into(),
            size_gib: 100,
            iops: Some(4000),
            throughput: Some(250),
            count: 2,
        }],
        &[],
    );
    let compute = e.by_category[&Category::Compute];
    assert!((compute - 0.0832).abs() < 1e-9);
    // 2 × (100 × 0.08 + 1000 × 0.005 + 125 × 0.04) = 2 × 18 = 36 $/month
    let storage = e.by_category[&Category::Storage];
    assert!((storage - 36.0 / 730.0).abs() < 1e-9, "{storage}");
    assert!((e.by_category[&Category::Network] - 0.01).abs() < 1e-9);
    assert!((e.monthly - e.hourly * 730.0).abs() < 1e-9);
    assert!(e.items.iter().all(|i| i.source.contains("2025-01-15")));
    assert!(e.to_text().contains("catalog 2025-01-15"));
}

#[test]
fn spot_with_a_quote_shows_savings_and_cites_the_quote() {
    let q = quote("us-east-1", "us-east-1c", "g4dn.xlarge", 0.1578);
    let e = estimate(
        "us-east-1",
        &[InstanceLine {
            instance_type: "g4dn.xlarge".into(),
            count: 1,
            spot: true,
            quote: Some(q),
            public_ip: false,
        }],
        &[],
        &[],
    );
    assert!((e.savings() - 0.7).abs() < 0.001, "{}", e.savings());
    assert!(e.items[0].source.contains("us-east-1c"));
    assert!(e.to_text().contains("70 % less"));
}

#[test]
fn spot_without_a_quote_uses_on_demand_as_upper_bound_and_says_so() {
    let e = estimate(
        "us-east-1",
        &[InstanceLine {
            instance_type: "t3.small".into(),
            count: 1,
            spot: true,
            quote: None,
            public_ip: false,
        }],
        &[],
        &[],
    );
    assert!((e.hourly - 0.0208).abs() < 1e-9);
    assert!(e.notes.iter().any(|n| n.contains("upper bound")));
}

#[test]
fn unknown_prices_are_named_not_guessed() {
    let e = estimate(
        "ap-south-2",
        &[InstanceLine {
            instance_type: "t3.small".into(),
            count: 1,
            spot: false,
            quote: None,
            public_ip: false,
        }],
        &[],
        &[],
    );
    assert_eq!(e.hourly, 0.0);
    assert!(
        e.notes[0].contains("no catalog price for t3.small in ap-south-2"),
        "{:?}",
        e.notes
    );
}

#[test]
fn budget_warning() {
    let e = estimate(
        "us-east-1",
        &[InstanceLine {
            instance_type: "g5.xlarge".into(),
            count: 1,
            spot: false,
            quote: None,
            public_ip: false,
        }],
        &[],
        &[Extra::Alb { lcus: 1.0 }],
    );
    assert!(e
        .over_budget(0.20)
        .unwrap()
        .contains("over the budget of $0.2000/h"));
    assert!(e.over_budget(5.0).is_none());
}

#[test]
fn a_nat_gateway_costs_its_hour_its_address_and_the_data_through_it() {
    let e = estimate(
        "us-east-1",
        &[],
        &[],
        &[Extra::NatGateway { gb_per_month: 10.0 }],
    );
    let want = 0.045 + 0.005 + 0.045 * 10.0 / 730.0;
    assert!((e.hourly - want).abs() < 1e-9, "{}", e.hourly);
    assert_eq!(e.items.len(), 1);
    assert!(
        e.items[0].what.contains("NAT gateway"),
        "{}",
        e.items[0].what
    );
    assert!(e.by_category.contains_key(&Category::Network));
}

#[test]
fn cheapest_fitting_cpu_type_is_chosen() {
    let needs = Needs {
        min_vcpu: 2,
        min_memory_gib: 8,
        ..Needs::default()
    };
    let p = place(&["us-east-1".into()], &needs, false, &[], None).unwrap();
    assert_eq!(p.instance_type, "t4g.large");
    let x86 = Needs {
        arch: Some("x86_64".into()),
        ..needs
    };
    let p = place(&["us-east-1".into()], &x86, false, &[], None).unwrap();
    assert_eq!(p.instance_type, "t3.large");
    assert!(p.explanation.contains("cheapest type that fits"));
}

#[test]
fn spot_placement_picks_the_cheapest_zone_across_regions() {
    let needs = Needs {
        gpu: true,
        min_gpu_memory_gib: 16,
        min_memory_gib: 16,
        ..Needs::default()
    };
    let quotes = vec![
        quote("us-east-1", "us-east-1a", "g4dn.xlarge", 0.21),
        quote("us-east-1", "us-east-1d", "g4dn.xlarge", 0.19),
        quote("us-west-2", "us-west-2b", "g4dn.xlarge", 0.17),
        quote("us-west-2", "us-west-2b", "g5.xlarge", 0.35),
    ];
    let p = place(
        &["us-east-1".into(), "us-west-2".into()],
        &needs,
        true,
        &quotes,
        None,
    )
    .unwrap();
    assert_eq!(
        (
            p.region.as_str(),
            p.availability_zone.as_deref(),
            p.instance_type.as_str()
        ),
        ("us-west-2", Some("us-west-2b"), "g4dn.xlarge")
    );
    assert!(p.spot);
    assert!(p.explanation.contains("lowest spot price"));
}

#[test]
fn no_spot_quote_means_on_demand_placement() {
    let needs = Needs {
        min_memory_gib: 4,
        ..Needs::default()
    };
    let p = place(&["us-east-1".into()], &needs, true, &[], None).unwrap();
    assert!(!p.spot);
    assert!(p.explanation.contains("no spot price is known"));
}

#[test]
fn a_forced_type_must_fit() {
    let gpu = Needs {
        gpu: true,
        min_gpu_memory_gib: 16,
        ..Needs::default()
    };
    let err = place(&["us-east-1".into()], &gpu, false, &[], Some("t3.large")).unwrap_err();
    assert_eq!(
        err,
        PlacementError::TypeDoesNotFit("t3.large has no GPU; this tier needs one".into())
    );
    let err = place(&["us-east-1".into()], &gpu, false, &[], Some("x9.huge")).unwrap_err();
    assert!(matches!(err, PlacementError::UnknownType { .. }));
    let ok = place(&["us-east-1".into()], &gpu, false, &[], Some("g5.xlarge")).unwrap();
    assert_eq!(ok.instance_type, "g5.xlarge");
}

#[test]
fn refreshed_prices_lay_over_the_catalog_and_say_so() {
    let r = Refreshed {
        date: "2026-11-23".into(),
        source: "AWS Pricing API".into(),
        on_demand_hourly: [(
            "us-east-1".to_string(),
            [("t3.small".to_string(), 0.0210)].into_iter().collect(),
        )]
        .into_iter()
        .collect(),
    };
    let c = merge(catalog().clone(), r);
    assert_eq!(c.on_demand("us-east-1", "t3.small"), Some(0.0210));
    assert_eq!(
        c.on_demand("us-east-1", "t3.micro"),
        Some(0.0104),
        "others stay"
    );
    assert_eq!(c.date, "2026-11-23");
    assert!(
        c.source.contains("embedded catalog 2025-01-15"),
        "{}",
        c.source
    );
}
