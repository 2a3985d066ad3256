//! Refreshing on-demand prices from the AWS Pricing API (where it is reachable; it answers from
//! us-east-1 for every region).

use std::collections::BTreeMap;

use aws_sdk_pricing::types::{Filter, FilterType};
use futures::stream::{self, StreamExt};

use crate::{Cloud, CloudError};

fn term(field: &str, value: &str) -> Result<Filter, CloudError> {
    Filter::builder()
        .r#type(FilterType::TermMatch)
        .field(field)
        .value(value)
        .build()
        .map_err(|e| CloudError::new("GetProducts", None, e.to_string()))
}

/// The Linux, shared-tenancy on-demand USD/hour in one price-list product document.
pub fn on_demand_price(product: &str) -> Option<(String, f64)> {
    let v: serde_json::Value = serde_json::from_str(product).ok()?;
    let t = v["product"]["attributes"]["instanceType"]
        .as_str()?
        .to_string();
    let terms = v["terms"]["OnDemand"].as_object()?;
    let price = terms.values().find_map(|term| {
        term["priceDimensions"]
            .as_object()?
            .values()
            .find_map(|d| d["pricePerUnit"]["USD"].as_str()?.parse::<f64>().ok())
    })?;
    (price > 0.0).then_some((t, price))
}

impl Cloud {
    /// On-demand prices per region and type: one paginated `GetProducts` per pair, eight at once.
    pub async fn refresh_on_demand(
        &self,
        regions: &[String],
        types: &[String],
    ) -> Result<BTreeMap<String, BTreeMap<String, f64>>, CloudError> {
        let mut pairs = Vec::new();
        for r in regions {
            for t in types {
                pairs.push((r.clone(), t.clone()));
            }
        }
        let one = |(region, t): (String, String)| async move {
            let mut pages = self
                .pricing
                .get_products()
                .service_code("AmazonEC2")
                .filters(term("instanceType", &t)?)
                .filters(term("regionCode", &region)?)
                .filters(term("operatingSystem", "Linux")?)
                .filters(term("tenancy", "Shared")?)
                .filters(term("preInstalledSw", "NA")?)
                .filters(term("capacitystatus", "Used")?)
                .into_paginator()
                .send();
            let mut price = None;
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| CloudError::from_sdk("GetProducts", e))?;
                for doc in page.price_list() {
                    if let Some((ty, p)) = on_demand_price(doc) {
                        if ty == t {
                            price = Some(price.map_or(p, |x: f64| x.min(p)));
                        }
                    }
                }
            }
            Ok::<_, CloudError>((region, t, price))
        };
        let mut out: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
        let mut pairs = pairs.into_iter();
        // One call first: if the API is not reachable, say so at once.
        if let Some(first) = pairs.next() {
            let (region, t, price) = one(first).await?;
            if let Some(p) = price {
                out.entry(region).or_default().insert(t, p);
            }
        }
        let mut rest = stream::iter(pairs).map(one).buffer_unordered(8);
        while let Some(r) = rest.next().await {
            let (region, t, price) = r?;
            if let Some(p) = price {
                out.entry(region).or_default().insert(t, p);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_on_demand_price_from_a_price_list_document() {
        let doc = r#"{"product":{"attributes":{"instanceType":"g4dn.xlarge","regionCode":"us-east-1"}},
            "terms":{"OnDemand":{"X.JRTCKXETXF":{"priceDimensions":{"X.JRTCKXETXF.6YS6EN2CT7":
            {"unit":"Hrs","pricePerUnit":{"USD":"0.5260000000"}}}}}}}"#;
        assert_eq!(on_demand_price(doc), Some(("g4dn.xlarge".into(), 0.526)));
        assert_eq!(on_demand_price("{}"), None);
        assert_eq!(on_demand_price("not json"), None);
    }
}
