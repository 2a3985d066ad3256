//! Prices and placement. Every price says where it came from and when: the embedded catalog
//! (dated), or a live quote (timestamped). Nothing is guessed silently: when a price is unknown
//! the estimate says so and uses the known upper bound.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

// What the cloud layer reads (a type's shape, a live spot price) lives in gm-model, so gm-cloud
// returns it without depending on the cost model.
pub use gm_model::price::{SpotQuote, TypeInfo};

/// Extra EBS charges per month.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EbsExtras {
    /// gp3 IOPS above the 3000 included, per IOPS-month.
    pub gp3_iops_over_3000: f64,
    /// gp3 throughput above the 125 MiB/s included, per MiB/s-month.
    pub gp3_mibps_over_125: f64,
    /// io1/io2 provisioned IOPS, per IOPS-month.
    pub io_iops: f64,
}

/// The embedded, dated price catalog.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Catalog {
    /// When the prices were taken from AWS's price list.
    pub date: String,
    /// What they are.
    pub source: String,
    /// Hours in a billing month.
    pub hours_per_month: f64,
    /// Instance types we offer.
    pub instance_types: BTreeMap<String, TypeInfo>,
    /// Region → type → USD/hour.
    pub on_demand_hourly: BTreeMap<String, BTreeMap<String, f64>>,
    /// Region → volume type → USD per GiB-month.
    pub ebs_gib_month: BTreeMap<String, BTreeMap<String, f64>>,
    /// IOPS and throughput charges.
    pub ebs_extras_month: EbsExtras,
    /// A public IPv4 address, USD/hour.
    pub public_ipv4_hourly: f64,
    /// An Application Load Balancer, USD/hour.
    pub alb_hourly: f64,
    /// One ALB capacity unit, USD/hour.
    pub alb_lcu_hourly: f64,
    /// A NAT gateway, USD/hour.
    pub nat_gateway_hourly: f64,
    /// Data a NAT gateway processes, USD/GB.
    pub nat_gateway_gb: f64,
    /// CloudFront data out, USD/GB (first tier).
    pub cloudfront_gb_out: f64,
}

/// On-demand prices refreshed from the AWS Pricing API, kept beside the state.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Refreshed {
    /// When they were fetched (YYYY-MM-DD).
    pub date: String,
    /// Where from.
    pub source: String,
    /// Region → type → USD/hour.
    pub on_demand_hourly: BTreeMap<String, BTreeMap<String, f64>>,
}

static REFRESHED: std::sync::Mutex<Option<std::path::PathBuf>> = std::sync::Mutex::new(None);

/// Makes `catalog()` use refreshed on-demand prices from `path` when the file exists. Call it
/// before the first `catalog()`.
pub fn use_refreshed_prices(path: &std::path::Path) {
    if let Ok(mut p) = REFRESHED.lock() {
        *p = Some(path.to_path_buf());
    }
}

/// The embedded catalog with refreshed on-demand prices laid over it; the catalog's date and
/// source then say which prices are which.
pub fn merge(mut c: Catalog, r: Refreshed) -> Catalog {
    for (region, prices) in r.on_demand_hourly {
        c.on_demand_hourly.entry(region).or_default().extend(prices);
    }
    c.source = format!(
        "on-demand: {} ({}); storage and network: embedded catalog {}",
        r.source, r.date, c.date
    );
    c.date = r.date;
    c
}

/// The price catalog: embedded, with refreshed on-demand prices if `use_refreshed_prices` named
/// a file that exists.
pub fn catalog() -> &'static Catalog {
    static CATALOG: OnceLock<Catalog> = OnceLock::new();
    CATALOG.get_or_init(|| {
        let embedded = embedded();
        let path = REFRESHED.lock().ok().and_then(|p| p.clone());
        match path
            .and_then(|p| std::fs::read_to_string(p).ok())
            .and_then(|s| serde_json::from_str::<Refreshed>(&s).ok())
        {
            Some(r) => merge(embedded, r),
            None => embedded,
        }
    })
}

fn embedded() -> Catalog {
    {
        // The file ships inside the binary and is parsed by a unit test, so this cannot fail
        // for a user; should it ever, an empty catalog makes every estimate say "unknown".
        serde_json::from_str(include_str!("catalog.json")).unwrap_or_else(|_| Catalog {
            date: "unknown".into(),
            source: "catalog failed to load".into(),
            hours_per_month: 730.0,
            instance_types: BTreeMap::new(),
            on_demand_hourly: BTreeMap::new(),
            ebs_gib_month: BTreeMap::new(),
            ebs_extras_month: EbsExtras {
                gp3_iops_over_3000: 0.0,
                gp3_mibps_over_125: 0.0,
                io_iops: 0.0,
            },
            public_ipv4_hourly: 0.0,
            alb_hourly: 0.0,
            alb_lcu_hourly: 0.0,
            nat_gateway_hourly: 0.0,
            nat_gateway_gb: 0.0,
            cloudfront_gb_out: 0.0,
        })
    }
}

impl Catalog {
    /// Where catalog prices come from, for display: `AWS price list, 2025-01-15`.
    pub fn cite(&self) -> String {
        format!("catalog {}", self.date)
    }

    /// On-demand USD/hour of a type in a region.
    pub fn on_demand(&self, region: &str, instance_type: &str) -> Option<f64> {
        self.on_demand_hourly
            .get(region)?
            .get(instance_type)
            .copied()
    }

    /// Regions the catalog prices.
    pub fn regions(&self) -> Vec<&str> {
        self.on_demand_hourly.keys().map(String::as_str).collect()
    }
}

/// Cost categories of an estimate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    /// Instances.
    Compute,
    /// EBS volumes.
    Storage,
    /// Public IPs, load balancers, CDN.
    Network,
}

/// One priced item.
#[derive(Debug, Clone, Serialize)]
pub struct LineItem {
    /// Category.
    pub category: Category,
    /// What it is: `2 × t3.medium spot in us-east-1a`.
    pub what: String,
    /// USD/hour for all of them.
    pub hourly: f64,
    /// The same on-demand (equal to `hourly` for non-spot items).
    pub on_demand_hourly: f64,
    /// Where the price came from.
    pub source: String,
}

/// An instance group to price.
#[derive(Debug, Clone)]
pub struct InstanceLine {
    /// Type.
    pub instance_type: String,
    /// How many.
    pub count: u32,
    /// Spot market.
    pub spot: bool,
    /// Live spot price, when known.
    pub quote: Option<SpotQuote>,
    /// Each has a public IPv4 address.
    pub public_ip: bool,
}

/// Volumes to price.
#[derive(Debug, Clone)]
pub struct VolumeLine {
    /// gp3, io2, …
    pub volume_type: String,
    /// GiB each.
    pub size_gib: u32,
    /// Provisioned IOPS each.
    pub iops: Option<u32>,
    /// MiB/s each.
    pub throughput: Option<u32>,
    /// How many.
    pub count: u32,
}

/// Network extras.
#[derive(Debug, Clone, Copy)]
pub enum Extra {
    /// An Application Load Balancer with this many LCUs on average.
    Alb {
        /// Average LCUs.
        lcus: f64,
    },
    /// CloudFront with this many GB out per month.
    CloudFront {
        /// GB per month.
        gb_per_month: f64,
    },
    /// A NAT gateway with its Elastic IP, processing this many GB per month.
    NatGateway {
        /// GB per month through it.
        gb_per_month: f64,
    },
}

/// An hourly and monthly cost estimate, broken down.
#[derive(Debug, Clone, Serialize)]
pub struct Estimate {
    /// Region.
    pub region: String,
    /// Items.
    pub items: Vec<LineItem>,
    /// USD/hour.
    pub hourly: f64,
    /// USD/month (730 h).
    pub monthly: f64,
    /// USD/hour if everything ran on-demand.
    pub on_demand_hourly: f64,
    /// USD/hour by category.
    pub by_category: BTreeMap<Category, f64>,
    /// Caveats: unknown prices, upper bounds used, dates.
    pub notes: Vec<String>,
}

impl Estimate {
    /// What spot saves against on-demand, as a fraction (0.7 = 70 %).
    pub fn savings(&self) -> f64 {
        if self.on_demand_hourly <= 0.0 {
            0.0
        } else {
            1.0 - self.hourly / self.on_demand_hourly
        }
    }

    /// The estimate as people read it.
    pub fn to_text(&self) -> String {
        let mut s = format!(
            "Estimated cost in {}: ${:.4}/h, ${:.2}/month",
            self.region, self.hourly, self.monthly
        );
        if self.savings() > 0.005 {
            s.push_str(&format!(
                " ({:.0} % less than ${:.4}/h on-demand)",
                self.savings() * 100.0,
                self.on_demand_hourly
            ));
        }
        s.push('\n');
        for i in &self.items {
            s.push_str(&format!(
                "  {:<8} {:<44} ${:.4}/h  [{}]\n",
                format!("{:?}", i.category).to_lowercase(),
                i.what,
                i.hourly,
                i.source
            ));
        }
        for n in &self.notes {
            s.push_str(&format!("  note: {n}\n"));
        }
        s
    }

    /// A warning when the estimate is over an hourly budget.
    pub fn over_budget(&self, budget_hourly: f64) -> Option<String> {
        (self.hourly > budget_hourly).then(|| {
            format!(
                "the estimate ${:.4}/h is over the budget of ${budget_hourly:.4}/h by ${:.4}/h",
                self.hourly,
                self.hourly - budget_hourly
            )
        })
    }
}

/// Prices instances, volumes and extras in a region.
pub fn estimate(
    region: &str,
    instances: &[InstanceLine],
    volumes: &[VolumeLine],
    extras: &[Extra],
) -> Estimate {
    let c = catalog();
    let mut items = Vec::new();
    let mut notes = Vec::new();
    for i in instances.iter().filter(|i| i.count > 0) {
        let n = f64::from(i.count);
        let od = c.on_demand(region, &i.instance_type);
        if od.is_none() {
            notes.push(format!(
                "no catalog price for {} in {region}: left out of the total (catalog {} covers {})",
                i.instance_type,
                c.date,
                c.regions().join(", ")
            ));
        }
        let od = od.unwrap_or(0.0);
        let (unit, source, where_) = match (&i.quote, i.spot) {
            (Some(q), true) => (
                q.usd_per_hour,
                format!("spot price {} at {}", q.availability_zone, q.timestamp),
                format!(" in {}", q.availability_zone),
            ),
            (None, true) => {
                notes.push(format!(
                    "no live spot price for {}: its on-demand price is shown as the upper bound",
                    i.instance_type
                ));
                (od, c.cite(), String::new())
            }
            (_, false) => (od, c.cite(), String::new()),
        };
        items.push(LineItem {
            category: Category::Compute,
            what: format!(
                "{} × {} {}{where_}",
                i.count,
                i.instance_type,
                if i.spot { "spot" } else { "on-demand" }
            ),
            hourly: unit * n,
            on_demand_hourly: od * n,
            source,
        });
        if i.public_ip {
            let h = c.public_ipv4_hourly * n;
            items.push(LineItem {
                category: Category::Network,
                what: format!("{} public IPv4 address(es)", i.count),
                hourly: h,
                on_demand_hourly: h,
                source: c.cite(),
            });
        }
    }
    for v in volumes.iter().filter(|v| v.count > 0) {
        let Some(per_gib) = c
            .ebs_gib_month
            .get(region)
            .and_then(|m| m.get(&v.volume_type))
            .copied()
        else {
            notes.push(format!(
                "no catalog price for {} volumes in {region}",
                v.volume_type
            ));
            continue;
        };
        let x = &c.ebs_extras_month;
        let mut month = per_gib * f64::from(v.size_gib);
        match v.volume_type.as_str() {
            "gp3" => {
                month +=
                    x.gp3_iops_over_3000 * f64::from(v.iops.unwrap_or(3000).saturating_sub(3000));
                month += x.gp3_mibps_over_125
                    * f64::from(v.throughput.unwrap_or(125).saturating_sub(125));
            }
            "io1" | "io2" => month += x.io_iops * f64::from(v.iops.unwrap_or(0)),
            _ => {}
        }
        let h = month * f64::from(v.count) / c.hours_per_month;
        items.push(LineItem {
            category: Category::Storage,
            what: format!("{} × {} GiB {}", v.count, v.size_gib, v.volume_type),
            hourly: h,
            on_demand_hourly: h,
            source: c.cite(),
        });
    }
    for e in extras {
        let (what, h) = match *e {
            Extra::Alb { lcus } => (
                format!("application load balancer (~{lcus} LCU)"),
                c.alb_hourly + c.alb_lcu_hourly * lcus,
            ),
            Extra::CloudFront { gb_per_month } => (
                format!("CloudFront (~{gb_per_month} GB/month out)"),
                c.cloudfront_gb_out * gb_per_month / c.hours_per_month,
            ),
            Extra::NatGateway { gb_per_month } => (
                format!("NAT gateway and its Elastic IP (~{gb_per_month} GB/month through it)"),
                c.nat_gateway_hourly
                    + c.public_ipv4_hourly
                    + c.nat_gateway_gb * gb_per_month / c.hours_per_month,
            ),
        };
        items.push(LineItem {
            category: Category::Network,
            what,
            hourly: h,
            on_demand_hourly: h,
            source: c.cite(),
        });
    }
    // `+ 0.0` turns the empty sum's -0.0 into 0.0, which prints as "0.0000", not "-0.0000".
    let hourly: f64 = items.iter().map(|i| i.hourly).sum::<f64>() + 0.0;
    let on_demand_hourly: f64 = items.iter().map(|i| i.on_demand_hourly).sum::<f64>() + 0.0;
    let mut by_category = BTreeMap::new();
    for i in &items {
        *by_category.entry(i.category).or_insert(0.0) += i.hourly;
    }
    notes.push(format!("catalog prices are from {} ({})", c.date, c.source));
    Estimate {
        region: region.to_string(),
        items,
        hourly,
        monthly: hourly * c.hours_per_month,
        on_demand_hourly,
        by_category,
        notes,
    }
}

/// What a workload needs from an instance type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Needs {
    /// At least this many vCPUs.
    pub min_vcpu: u32,
    /// At least this much memory.
    pub min_memory_gib: u32,
    /// A GPU is required.
    pub gpu: bool,
    /// At least this much GPU memory.
    pub min_gpu_memory_gib: u32,
    /// This architecture only.
    pub arch: Option<String>,
}

impl Needs {
    /// Why `t` does not fit, or `None` when it does.
    pub fn misfit(&self, name: &str, t: &TypeInfo) -> Option<String> {
        if t.vcpu < self.min_vcpu {
            return Some(format!(
                "{name} has {} vCPU; {} needed",
                t.vcpu, self.min_vcpu
            ));
        }
        if t.memory_gib < self.min_memory_gib {
            return Some(format!(
                "{name} has {} GiB memory; {} GiB needed",
                t.memory_gib, self.min_memory_gib
            ));
        }
        if self.gpu && t.gpus == 0 {
            return Some(format!("{name} has no GPU; this tier needs one"));
        }
        if self.gpu && t.gpu_memory_gib.unwrap_or(0) < self.min_gpu_memory_gib {
            return Some(format!(
                "{name} has {} GiB GPU memory; {} GiB needed",
                t.gpu_memory_gib.unwrap_or(0),
                self.min_gpu_memory_gib
            ));
        }
        if !self.gpu && t.gpus > 0 {
            return Some(format!("{name} is a GPU type; this tier runs on CPU"));
        }
        if let Some(a) = &self.arch {
            if &t.arch != a {
                return Some(format!("{name} is {}; {a} needed", t.arch));
            }
        }
        None
    }
}

/// Catalog types that fit `needs` in `region`, cheapest on-demand first.
pub fn fitting_types(region: &str, needs: &Needs) -> Vec<(String, f64)> {
    let c = catalog();
    let mut v: Vec<(String, f64)> = c
        .instance_types
        .iter()
        .filter(|(name, t)| needs.misfit(name, t).is_none())
        .filter_map(|(name, _)| c.on_demand(region, name).map(|p| (name.clone(), p)))
        .collect();
    v.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    v
}

/// Where and on what an instance should run, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Placement {
    /// Region.
    pub region: String,
    /// Zone (spot: the cheapest; on-demand: any, chosen by AWS).
    pub availability_zone: Option<String>,
    /// Type.
    pub instance_type: String,
    /// Spot or on-demand.
    pub spot: bool,
    /// USD/hour of the choice.
    pub usd_per_hour: f64,
    /// USD/hour of the same type on-demand.
    pub on_demand_usd_per_hour: f64,
    /// Why this one, in a sentence or two.
    pub explanation: String,
    /// The quote the choice rests on.
    pub quote: Option<SpotQuote>,
}

/// Why no placement was possible.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum PlacementError {
    /// No catalog type fits.
    #[error("no instance type in the catalog fits in {regions}: {why}")]
    NothingFits {
        /// Regions tried.
        regions: String,
        /// The needs.
        why: String,
    },
    /// The type asked for does not fit.
    #[error("{0}")]
    TypeDoesNotFit(String),
    /// The type asked for is not in the catalog.
    #[error("{instance_type} is not in the price catalog ({date}); known types: {known}")]
    UnknownType {
        /// The type.
        instance_type: String,
        /// Catalog date.
        date: String,
        /// Types we know.
        known: String,
    },
}

/// Chooses the cheapest (region, zone, type) that fits. With `spot`, live quotes decide among
/// zones and regions; types without a quote are priced on-demand. `forced_type` (the user's
/// `--instance-type`) is checked against the needs, then placed.
pub fn place(
    regions: &[String],
    needs: &Needs,
    spot: bool,
    quotes: &[SpotQuote],
    forced_type: Option<&str>,
) -> Result<Placement, PlacementError> {
    let c = catalog();
    if let Some(t) = forced_type {
        let info = c
            .instance_types
            .get(t)
            .ok_or_else(|| PlacementError::UnknownType {
                instance_type: t.to_string(),
                date: c.date.clone(),
                known: c
                    .instance_types
                    .keys()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
        if let Some(why) = needs.misfit(t, info) {
            return Err(PlacementError::TypeDoesNotFit(why));
        }
    }
    let mut best: Option<Placement> = None;
    for region in regions {
        let candidates: Vec<(String, f64)> = match forced_type {
            Some(t) => c
                .on_demand(region, t)
                .map(|p| vec![(t.to_string(), p)])
                .unwrap_or_default(),
            None => fitting_types(region, needs),
        };
        for (t, od) in candidates {
            let cheapest_quote = quotes
                .iter()
                .filter(|q| spot && &q.region == region && q.instance_type == t)
                .min_by(|a, b| a.usd_per_hour.total_cmp(&b.usd_per_hour));
            let (price, az, quote) = match cheapest_quote {
                Some(q) => (
                    q.usd_per_hour,
                    Some(q.availability_zone.clone()),
                    Some(q.clone()),
                ),
                None => (od, None, None),
            };
            if best.as_ref().is_none_or(|b| price < b.usd_per_hour) {
                best = Some(Placement {
                    region: region.clone(),
                    availability_zone: az,
                    instance_type: t.clone(),
                    spot: spot && quote.is_some(),
                    usd_per_hour: price,
                    on_demand_usd_per_hour: od,
                    explanation: String::new(),
                    quote,
                });
            }
        }
    }
    let mut p = best.ok_or_else(|| PlacementError::NothingFits {
        regions: regions.join(", "),
        why: format!("{needs:?}"),
    })?;
    p.explanation = match (&p.quote, spot) {
        (Some(q), _) => format!(
            "{} is the cheapest type that fits; {} has its lowest spot price, ${:.4}/h at {} ({:.0} % below ${:.4}/h on-demand)",
            p.instance_type,
            q.availability_zone,
            q.usd_per_hour,
            q.timestamp,
            (1.0 - q.usd_per_hour / p.on_demand_usd_per_hour.max(f64::MIN_POSITIVE)) * 100.0,
            p.on_demand_usd_per_hour
        ),
        (None, true) => format!(
            "{} is the cheapest type that fits; no spot price is known for it in {}, so it is placed on-demand at ${:.4}/h ({})",
            p.instance_type,
            p.region,
            p.usd_per_hour,
            c.cite()
        ),
        (None, false) => format!(
            "{} is the cheapest type that fits, ${:.4}/h on-demand in {} ({})",
            p.instance_type,
            p.usd_per_hour,
            p.region,
            c.cite()
        ),
    };
    Ok(p)
}

#[cfg(test)]
mod tests;
