//! Logical addresses: how plans, the journal and the `geusemaker:id` tag name a resource of a
//! deployment, whatever its AWS id. Built and read here only, never with `format!` at a use.
//!
//! | kind | address |
//! | --- | --- |
//! | instance | `instance/GROUP/INDEX` |
//! | volume | `volume/GROUP/INDEX` (the tag), `volume/GROUP/INDEX:/dev/sdf` (a record) |
//! | security group | `sg/NAME` |
//! | role, secret | `role/NAME`, `secret/NAME` |
//! | network | `vpc/main`, `subnet/NAME`, `internet-gateway/main`, `route-table/public`, … |
//! | edge | `load-balancer`, `target-group`, `cdn` |

use std::fmt;

use crate::ResourceKind;

/// A resource's logical address in its deployment.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    kind: ResourceKind,
    /// Empty for the edge's one-of-a-kind resources.
    name: String,
    /// The copy of an instance group (instances and their volumes).
    index: Option<u32>,
    /// The device a volume is (or was) attached at, or `detached`.
    device: Option<String>,
}

impl Address {
    fn new(kind: ResourceKind, name: &str, index: Option<u32>) -> Address {
        Address {
            kind,
            name: name.to_string(),
            index,
            device: None,
        }
    }

    /// `instance/GROUP/INDEX`.
    pub fn instance(group: &str, index: u32) -> Address {
        Address::new(ResourceKind::Instance, group, Some(index))
    }

    /// `volume/GROUP/INDEX`: the volumes of an instance, as their tag names them.
    pub fn volume(group: &str, index: u32) -> Address {
        Address::new(ResourceKind::Volume, group, Some(index))
    }

    /// `sg/NAME`.
    pub fn group(name: &str) -> Address {
        Address::new(ResourceKind::SecurityGroup, name, None)
    }

    /// `role/NAME`.
    pub fn role(name: &str) -> Address {
        Address::new(ResourceKind::Role, name, None)
    }

    /// `secret/NAME`.
    pub fn secret(name: &str) -> Address {
        Address::new(ResourceKind::Secret, name, None)
    }

    /// The secret stored at SSM `parameter` (`/geusemaker/DEPLOYMENT/NAME` → `secret/NAME`).
    pub fn secret_at(parameter: &str) -> Address {
        Address::secret(parameter.rsplit('/').next().unwrap_or(parameter))
    }

    /// `subnet/NAME`.
    pub fn subnet(name: &str) -> Address {
        Address::new(ResourceKind::Subnet, name, None)
    }

    /// The same address at `device` (`volume/web/0:/dev/sdf`).
    pub fn at_device(mut self, device: &str) -> Address {
        self.device = Some(device.to_string());
        self
    }

    /// What the address is of.
    pub fn kind(&self) -> ResourceKind {
        self.kind
    }

    /// The spec name (an instance group's for instances and volumes).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The copy of an instance group.
    pub fn index(&self) -> Option<u32> {
        self.index
    }

    /// A volume's device.
    pub fn device(&self) -> Option<&str> {
        self.device.as_deref()
    }

    /// The instance a volume address belongs to (`volume/web/0` → `instance/web/0`).
    pub fn instance_of(&self) -> Option<Address> {
        match (self.kind, self.index) {
            (ResourceKind::Volume, Some(i)) => Some(Address::instance(&self.name, i)),
            _ => None,
        }
    }

    /// Whether this is a copy of instance group `group`.
    pub fn is_instance_of(&self, group: &str) -> bool {
        self.kind == ResourceKind::Instance && self.name == group
    }

    /// The first segment that says the kind.
    fn prefix(kind: ResourceKind) -> &'static str {
        match kind {
            ResourceKind::SecurityGroup => "sg",
            k => k.as_str(),
        }
    }

    fn is_single(kind: ResourceKind) -> bool {
        ResourceKind::EDGE.contains(&kind)
    }

    /// Reads an address; `None` for anything that is not one.
    pub fn parse(s: &str) -> Option<Address> {
        let (path, device) = match s.split_once(':') {
            Some((p, d)) if !d.is_empty() => (p, Some(d.to_string())),
            Some(_) => return None,
            None => (s, None),
        };
        let mut parts = path.split('/');
        let prefix = parts.next()?;
        let kind = match prefix {
            "sg" => ResourceKind::SecurityGroup,
            p => ResourceKind::parse(p).filter(|k| *k != ResourceKind::SecurityGroup)?,
        };
        let name = parts.next();
        let index = parts.next();
        if parts.next().is_some() {
            return None;
        }
        let address = match (Address::is_single(kind), name, index) {
            (true, None, None) => Address::new(kind, "", None),
            (false, Some(n), None) if !n.is_empty() => Address::new(kind, n, None),
            (false, Some(n), Some(i)) if !n.is_empty() => {
                Address::new(kind, n, Some(i.parse().ok()?))
            }
            _ => return None,
        };
        if device.is_some() && kind != ResourceKind::Volume {
            return None;
        }
        Some(Address { device, ..address })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(Address::prefix(self.kind))?;
        if !Address::is_single(self.kind) {
            write!(f, "/{}", self.name)?;
        }
        if let Some(i) = self.index {
            write!(f, "/{i}")?;
        }
        if let Some(d) = &self.device {
            write!(f, ":{d}")?;
        }
        Ok(())
    }
}

impl From<Address> for String {
    fn from(a: Address) -> String {
        a.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_reads_back_as_written() {
        for s in [
            "instance/web/0",
            "volume/web/12",
            "volume/web/0:/dev/sdf",
            "volume/web/0:detached",
            "sg/web",
            "role/app",
            "secret/db-password",
            "subnet/public-a",
            "vpc/main",
            "internet-gateway/main",
            "route-table/private",
            "nat-gateway/main",
            "elastic-ip/nat",
            "load-balancer",
            "target-group",
            "cdn",
        ] {
            let a = Address::parse(s).unwrap_or_else(|| panic!("{s} parses"));
            assert_eq!(a.to_string(), s);
        }
    }

    #[test]
    fn constructors_write_what_the_tags_hold() {
        assert_eq!(Address::instance("web", 1).to_string(), "instance/web/1");
        assert_eq!(
            Address::volume("web", 1).at_device("/dev/sdf").to_string(),
            "volume/web/1:/dev/sdf"
        );
        assert_eq!(Address::group("web").to_string(), "sg/web");
        assert_eq!(
            Address::secret_at("/geusemaker/dl/n8n-key").to_string(),
            "secret/n8n-key"
        );
        let v = Address::parse("volume/web/3:/dev/sdf").unwrap();
        assert_eq!(v.instance_of(), Some(Address::instance("web", 3)));
        assert_eq!(v.device(), Some("/dev/sdf"));
        assert!(Address::instance("web", 0).is_instance_of("web"));
        assert!(!Address::instance("web", 0).is_instance_of("we"));
    }

    #[test]
    fn what_is_not_an_address_is_refused() {
        for s in [
            "",
            "instance",
            "instance/",
            "instance/web/x",
            "instance/web/0/1",
            "security-group/web",
            "sg/web:/dev/sdf",
            "volume/web/0:",
            "cdn/main",
            "bucket/x",
        ] {
            assert_eq!(Address::parse(s), None, "{s}");
        }
    }
}
