//! The seam between the engine and AWS: every call the engine (and a command through it) makes,
//! as one trait. [`crate::Cloud`] implements it with the SDK; a simulator (crate `gm-sim`)
//! implements it in memory, so engine behaviour, failure at every step included, is tested in
//! seconds without an emulator. Reads that combine other reads (a whole deployment) and waits
//! (poll until a state) are provided methods: one copy, used by both.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use gm_model::{
    Actual, ActualInstance, ActualRole, ActualSecret, ActualSg, ActualVolume, DesiredCdn,
    DesiredLb, DesiredRole, Reads, Rule, Tags, VolumeChange,
};

use crate::{
    Backoff, CloudError, ImageInfo, LaunchOutcome, LaunchRequest, RequestCounter, SubnetInfo,
    WaitTarget,
};

/// Declares [`CloudApi`] and implements it for [`crate::Cloud`] from one list: each required
/// method forwards to `Cloud`'s inherent method of the same name and arguments, so the list of
/// operations is written once. (The whole trait and impl are generated, so `async_trait` sees
/// every method.)
macro_rules! cloud_api {
    (
        $(#[$doc:meta])*
        required {
            $( $(#[$m:meta])* async fn $name:ident(&self $(, $arg:ident : $ty:ty)* $(,)?) -> $ret:ty; )*
        }
        provided { $($provided:tt)* }
    ) => {
        $(#[$doc])*
        #[async_trait]
        pub trait CloudApi: Send + Sync {
            /// The region in use.
            fn region(&self) -> &str;
            /// Requests sent so far (by operation).
            fn requests(&self) -> &RequestCounter;
            $( $(#[$m])* async fn $name(&self $(, $arg: $ty)*) -> $ret; )*
            $($provided)*
        }

        #[async_trait]
        impl CloudApi for crate::Cloud {
            fn region(&self) -> &str {
                crate::Cloud::region(self)
            }

            fn requests(&self) -> &RequestCounter {
                crate::Cloud::requests(self)
            }

            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    crate::Cloud::$name(self $(, $arg)*).await
                }
            )*
        }
    };
}

cloud_api! {
    /// The AWS operations the engine uses. Errors are [`CloudError`]s classified as the real cloud
    /// classifies them (not-found, throttled, in use, …), so the engine's handling is the same
    /// whichever implementation answers.
    required {
        // --- reads -------------------------------------------------------------------------------

        /// The live (not terminated) instances tagged with `deployment`.
        async fn describe_deployment_instances(
            &self,
            deployment: &str,
        ) -> Result<Vec<ActualInstance>, CloudError>;
        /// The volumes tagged with `deployment`.
        async fn describe_deployment_volumes(
            &self,
            deployment: &str,
        ) -> Result<Vec<ActualVolume>, CloudError>;
        /// The security groups tagged with `deployment`.
        async fn describe_deployment_groups(
            &self,
            deployment: &str,
        ) -> Result<Vec<ActualSg>, CloudError>;
        /// Instances by id, in any state (terminated ones while AWS still reports them).
        async fn describe_instances_by_id(
            &self,
            ids: &[String],
        ) -> Result<Vec<ActualInstance>, CloudError>;
        /// Volumes by id.
        async fn describe_volumes_by_id(&self, ids: &[String])
            -> Result<Vec<ActualVolume>, CloudError>;
        /// IAM roles (with their instance profiles) under `path`.
        async fn describe_roles(&self, path: &str) -> Result<Vec<ActualRole>, CloudError>;
        /// SSM parameter names under `path`.
        async fn describe_secrets(&self, path: &str) -> Result<Vec<ActualSecret>, CloudError>;
        /// The deployment's load balancer, target group and distributions.
        async fn describe_edge(&self, deployment: &str) -> Result<crate::ActualEdge, CloudError>;
        /// The region's default VPC.
        async fn default_vpc(&self) -> Result<String, CloudError>;
        /// Subnets, of one VPC or all.
        async fn subnets(&self, vpc: Option<&str>) -> Result<Vec<SubnetInfo>, CloudError>;
        /// The deployment's VPCs, subnets, internet gateways and route tables (by tag).
        async fn describe_network(&self, deployment: &str) -> Result<gm_model::ActualNetwork, CloudError>;
        /// The deployment's NAT gateways (not deleted) and Elastic IPs (by tag).
        async fn describe_nat(
            &self,
            deployment: &str,
        ) -> Result<(Vec<gm_model::ActualNatGateway>, Vec<gm_model::ActualAddress>), CloudError>;
        /// A NAT gateway by id, in any state (`None` once AWS forgets it).
        async fn describe_nat_gateway(
            &self,
            id: &str,
        ) -> Result<Option<gm_model::ActualNatGateway>, CloudError>;
        /// The region's available zones, in name order.
        async fn availability_zones(&self) -> Result<Vec<String>, CloudError>;
        /// The internet gateway attached to a VPC, if any.
        async fn vpc_gateway(&self, vpc_id: &str) -> Result<Option<String>, CloudError>;
        /// AMI aliases and ids resolved to images.
        async fn resolve_images(
            &self,
            amis: &[String],
        ) -> Result<HashMap<String, ImageInfo>, CloudError>;
        /// An instance type's shape, if the region knows it.
        async fn instance_type_info(
            &self,
            instance_type: &str,
        ) -> Result<Option<gm_model::TypeInfo>, CloudError>;
        /// Whether `instance_type` is offered in `zone`.
        async fn offered_in_zone(&self, instance_type: &str, zone: &str) -> Result<bool, CloudError>;
        /// An instance's console output (decoded).
        async fn console_output(&self, instance_id: &str) -> Result<String, CloudError>;
        /// The lock's lease value, if one is held.
        async fn read_lease(&self, deployment: &str) -> Result<Option<String>, CloudError>;

        // --- changes -----------------------------------------------------------------------------

        /// Launches one instance (tags set at creation).
        async fn launch(&self, req: &LaunchRequest) -> Result<LaunchOutcome, CloudError>;
        /// Adds or overwrites tags.
        async fn create_tags(&self, ids: &[String], tags: &Tags) -> Result<(), CloudError>;
        /// Removes tag keys.
        async fn delete_tags(&self, ids: &[String], keys: &[String]) -> Result<(), CloudError>;
        /// Terminates instances (already gone is success).
        async fn terminate_instances(&self, ids: &[String]) -> Result<(), CloudError>;
        /// Stops instances.
        async fn stop_instances(&self, ids: &[String]) -> Result<(), CloudError>;
        /// Starts instances.
        async fn start_instances(&self, ids: &[String]) -> Result<(), CloudError>;
        /// Changes a stopped instance's type.
        async fn modify_instance_type(&self, id: &str, instance_type: &str) -> Result<(), CloudError>;
        /// Replaces an instance's security groups.
        async fn modify_instance_groups(
            &self,
            id: &str,
            group_ids: &[String],
        ) -> Result<(), CloudError>;
        /// Changes a volume's size, type or performance.
        async fn modify_volume(&self, id: &str, change: &VolumeChange) -> Result<(), CloudError>;
        /// Attaches a volume.
        async fn attach_volume(
            &self,
            volume_id: &str,
            instance_id: &str,
            device: &str,
        ) -> Result<(), CloudError>;
        /// Detaches a volume.
        async fn detach_volume(&self, volume_id: &str, instance_id: &str) -> Result<(), CloudError>;
        /// Deletes a volume (already gone is success).
        async fn delete_volume(&self, id: &str) -> Result<(), CloudError>;
        /// Creates a security group (tags set at creation); its id.
        async fn create_security_group(
            &self,
            name: &str,
            description: &str,
            vpc_id: &str,
            tags: &Tags,
        ) -> Result<String, CloudError>;
        /// Adds inbound rules (already there is success).
        async fn authorize_ingress(&self, sg_id: &str, rules: &[Rule]) -> Result<(), CloudError>;
        /// Removes inbound rules.
        async fn revoke_ingress(&self, sg_id: &str, rules: &[Rule]) -> Result<(), CloudError>;
        /// Deletes a security group (already gone is success; in use is `DependencyViolation`).
        async fn delete_security_group(&self, sg_id: &str) -> Result<(), CloudError>;
        /// Creates a role, its instance profile and policies; the role's ARN.
        async fn create_role(&self, role: &DesiredRole) -> Result<String, CloudError>;
        /// Brings a role's policies and profile to what `role` says.
        async fn update_role(
            &self,
            role: &DesiredRole,
            attach: &[String],
            detach: &[String],
            secrets_policy: Option<bool>,
            repair_profile: bool,
        ) -> Result<(), CloudError>;
        /// Deletes a role with its profile and policies (already gone is success).
        async fn delete_role(&self, name: &str) -> Result<(), CloudError>;
        /// Stores a secret unless it exists; true when it was created.
        async fn put_secret(
            &self,
            parameter: &str,
            value: &str,
            tags: &Tags,
        ) -> Result<bool, CloudError>;
        /// Deletes secrets (already gone is success).
        async fn delete_secrets(&self, parameters: &[String]) -> Result<(), CloudError>;
        /// Takes the lock's lease unless one exists; true when taken.
        async fn create_lease(&self, deployment: &str, value: &str) -> Result<bool, CloudError>;
        /// Overwrites the lease (renewal).
        async fn write_lease(&self, deployment: &str, value: &str) -> Result<(), CloudError>;
        /// Removes the lease (already gone is success).
        async fn delete_lease(&self, deployment: &str) -> Result<(), CloudError>;
        /// Creates the target group (unless `existing_tg` is given), the load balancer and its
        /// listeners: (load balancer ARN, target group ARN, DNS name).
        async fn create_lb(
            &self,
            lb: &DesiredLb,
            subnets: &[String],
            vpc_id: &str,
            security_groups: &[String],
            existing_tg: Option<&str>,
        ) -> Result<(String, String, String), CloudError>;
        /// Creates the listeners of a new load balancer.
        async fn create_listeners(
            &self,
            arn: &str,
            tg_arn: &str,
            lb: &DesiredLb,
        ) -> Result<(), CloudError>;
        /// Replaces a load balancer's listeners.
        async fn replace_listeners(
            &self,
            arn: &str,
            tg_arn: &str,
            lb: &DesiredLb,
        ) -> Result<(), CloudError>;
        /// Sets the target group's health check path.
        async fn set_health_check(&self, tg_arn: &str, path: &str) -> Result<(), CloudError>;
        /// Makes the target group's targets exactly `instance_ids`.
        async fn sync_targets(
            &self,
            tg_arn: &str,
            port: u16,
            instance_ids: &[String],
        ) -> Result<(), CloudError>;
        /// Deletes a load balancer and its target group, waiting until they are gone.
        async fn delete_lb(
            &self,
            arn: Option<&str>,
            tg_arn: Option<&str>,
            timeout: Duration,
        ) -> Result<(), CloudError>;
        /// Creates a VPC (tags set at creation); its id.
        async fn create_vpc(&self, cidr: &str, tags: &Tags) -> Result<String, CloudError>;
        /// Deletes a VPC (already gone is success).
        async fn delete_vpc(&self, vpc_id: &str) -> Result<(), CloudError>;
        /// Creates a subnet (tags set at creation; a public one maps public addresses); its id.
        async fn create_subnet(
            &self,
            vpc_id: &str,
            cidr: &str,
            zone: Option<&str>,
            public: bool,
            tags: &Tags,
        ) -> Result<String, CloudError>;
        /// Deletes a subnet (already gone is success).
        async fn delete_subnet(&self, subnet_id: &str) -> Result<(), CloudError>;
        /// Creates an internet gateway (tags set at creation); its id.
        async fn create_internet_gateway(&self, tags: &Tags) -> Result<String, CloudError>;
        /// Attaches a gateway to a VPC (already attached is success).
        async fn attach_internet_gateway(&self, gateway_id: &str, vpc_id: &str) -> Result<(), CloudError>;
        /// Detaches a gateway from a VPC (not attached is success).
        async fn detach_internet_gateway(&self, gateway_id: &str, vpc_id: &str) -> Result<(), CloudError>;
        /// Deletes a gateway (already gone is success).
        async fn delete_internet_gateway(&self, gateway_id: &str) -> Result<(), CloudError>;
        /// Allocates an Elastic IP (tags set at creation); its allocation id.
        async fn allocate_address(&self, tags: &Tags) -> Result<String, CloudError>;
        /// Releases an Elastic IP (already gone is success).
        async fn release_address(&self, allocation_id: &str) -> Result<(), CloudError>;
        /// Creates a NAT gateway (tags set at creation; `token` is its `ClientToken`); its id.
        async fn create_nat_gateway(
            &self,
            subnet_id: &str,
            allocation_id: &str,
            token: &str,
            tags: &Tags,
        ) -> Result<String, CloudError>;
        /// Starts deleting a NAT gateway (already gone is success).
        async fn delete_nat_gateway(&self, id: &str) -> Result<(), CloudError>;
        /// Creates a route table (tags set at creation); its id.
        async fn create_route_table(&self, vpc_id: &str, tags: &Tags) -> Result<String, CloudError>;
        /// Adds a route to an internet or NAT gateway (already there is success).
        async fn create_route(
            &self,
            route_table_id: &str,
            destination: &str,
            gateway_id: &str,
        ) -> Result<(), CloudError>;
        /// Associates a subnet with a route table; the association's id.
        async fn associate_route_table(
            &self,
            route_table_id: &str,
            subnet_id: &str,
        ) -> Result<String, CloudError>;
        /// Removes an association (already gone is success).
        async fn disassociate_route_table(&self, association_id: &str) -> Result<(), CloudError>;
        /// Deletes a route table (already gone is success).
        async fn delete_route_table(&self, route_table_id: &str) -> Result<(), CloudError>;
        /// Creates a distribution in front of `origin`: (id, domain name).
        async fn create_cdn(
            &self,
            cdn: &DesiredCdn,
            origin: &str,
        ) -> Result<(String, String), CloudError>;
        /// Updates a distribution.
        async fn update_cdn(&self, id: &str, cdn: &DesiredCdn, origin: &str) -> Result<(), CloudError>;
        /// Disables and deletes a distribution, waiting as long as `timeout`.
        async fn delete_cdn(&self, id: &str, timeout: Duration) -> Result<(), CloudError>;
    }
    provided {
        // --- provided: combined reads and waits ------------------------------------------------

        /// Everything tagged with `deployment`: three describes, concurrently.
        async fn describe_deployment(&self, deployment: &str) -> Result<Actual, CloudError> {
            let (instances, volumes, security_groups) = tokio::try_join!(
                self.describe_deployment_instances(deployment),
                self.describe_deployment_volumes(deployment),
                self.describe_deployment_groups(deployment),
            )?;
            Ok(Actual {
                instances,
                volumes,
                security_groups,
                ..Actual::default()
            })
        }

        /// Everything of a deployment `reads` asks for, all reads concurrent: roles and secrets
        /// (under the deployment's IAM and SSM paths) and the edge (load balancer, target group,
        /// distributions) on top of the three EC2 describes.
        async fn describe_deployment_with(
            &self,
            deployment: &str,
            reads: Reads,
        ) -> Result<Actual, CloudError> {
            let (iam_path, ssm_path) = (
                gm_model::iam_path(deployment),
                gm_model::secrets_path(deployment),
            );
            let (mut actual, network, identity, edge) = tokio::try_join!(
                self.describe_deployment(deployment),
                async {
                    if reads.network {
                        self.describe_network_with(deployment, reads.nat).await.map(Some)
                    } else {
                        Ok(None)
                    }
                },
                async {
                    if reads.identity {
                        tokio::try_join!(
                            self.describe_roles(&iam_path),
                            self.describe_secrets(&ssm_path)
                        )
                        .map(Some)
                    } else {
                        Ok(None)
                    }
                },
                async {
                    if reads.edge {
                        self.describe_edge(deployment).await.map(Some)
                    } else {
                        Ok(None)
                    }
                },
            )?;
            if let Some((roles, secrets)) = identity {
                actual.roles = roles;
                actual.secrets = secrets;
            }
            if let Some(n) = network {
                actual.network = n;
            }
            if let Some(e) = edge {
                e.fill(&mut actual);
            }
            Ok(actual)
        }

        /// The deployment's network, with its NAT gateways and Elastic IPs when `nat` (all
        /// describes concurrent).
        async fn describe_network_with(
            &self,
            deployment: &str,
            nat: bool,
        ) -> Result<gm_model::ActualNetwork, CloudError> {
            let (mut net, nats) = tokio::try_join!(self.describe_network(deployment), async {
                if nat {
                    self.describe_nat(deployment).await.map(Some)
                } else {
                    Ok(None)
                }
            })?;
            if let Some((gateways, addresses)) = nats {
                net.nat_gateways = gateways;
                net.addresses = addresses;
            }
            Ok(net)
        }

        /// Polls a NAT gateway until it is `available` (`Ok(())`), or until it is gone when
        /// `gone` (deleted, or forgotten), or the deadline passes. A gateway that fails is an
        /// error with AWS's reason.
        async fn wait_nat_gateway(
            &self,
            id: &str,
            gone: bool,
            timeout: Duration,
        ) -> Result<(), CloudError> {
            let deadline = Instant::now() + timeout;
            let mut backoff = Backoff::default();
            let mut last = String::from("unknown");
            while crate::wait::pause(&mut backoff, deadline).await {
                let n = self.describe_nat_gateway(id).await?;
                let state = n.as_ref().map_or("deleted", |n| n.state.as_str());
                match (gone, state) {
                    (true, "deleted") | (false, "available") => return Ok(()),
                    (false, "failed" | "deleted" | "deleting") => {
                        return Err(CloudError::new(
                            "CreateNatGateway",
                            Some(crate::NAT_GATEWAY_FAILED),
                            format!("NAT gateway {id} is {state} instead of available"),
                        ))
                    }
                    _ => last = state.to_string(),
                }
            }
            Err(CloudError::new(
                "wait",
                Some("WaitTimeout"),
                format!(
                    "NAT gateway {id} still {last} after {} s",
                    timeout.as_secs()
                ),
            ))
        }

        /// Polls (batched by id) until every instance reaches `target`, or the deadline passes.
        /// Returns the last seen state of each instance.
        async fn wait_instances(
            &self,
            ids: &[String],
            target: WaitTarget,
            timeout: Duration,
        ) -> Result<HashMap<String, ActualInstance>, CloudError> {
            let deadline = Instant::now() + timeout;
            let mut backoff = Backoff::default();
            let mut pending: Vec<String> = ids.to_vec();
            let mut seen = HashMap::new();
            while !pending.is_empty() {
                if !crate::wait::pause(&mut backoff, deadline).await {
                    return Err(CloudError::new(
                        "wait",
                        Some("WaitTimeout"),
                        format!(
                            "{} instance(s) not {} after {} s: {}",
                            pending.len(),
                            target.state(),
                            timeout.as_secs(),
                            pending.join(", ")
                        ),
                    ));
                }
                let found = self.describe_instances_by_id(&pending).await?;
                let mut still = Vec::new();
                for id in &pending {
                    match found.iter().find(|i| &i.id == id) {
                        Some(i) if i.state == target.state() => {
                            seen.insert(id.clone(), i.clone());
                        }
                        Some(i)
                            if target == WaitTarget::Running
                                && (i.state == "terminated" || i.state == "shutting-down") =>
                        {
                            return Err(CloudError::new(
                                "wait",
                                Some("InstanceTerminated"),
                                format!("instance {id} was terminated while starting (spot reclaimed, or a boot failure)"),
                            ));
                        }
                        Some(i) => {
                            seen.insert(id.clone(), i.clone());
                            still.push(id.clone());
                        }
                        None if target == WaitTarget::Terminated => {}
                        None => still.push(id.clone()),
                    }
                }
                pending = still;
            }
            Ok(seen)
        }

        /// Polls (one `DescribeVolumes` for all ids) until every volume is `available`: detached
        /// from any instance. A volume that no longer exists is an error.
        async fn wait_volumes_available(
            &self,
            ids: &[String],
            timeout: Duration,
        ) -> Result<(), CloudError> {
            if ids.is_empty() {
                return Ok(());
            }
            let deadline = Instant::now() + timeout;
            let mut backoff = Backoff::default();
            loop {
                if !crate::wait::pause(&mut backoff, deadline).await {
                    return Err(CloudError::new(
                        "wait",
                        Some("WaitTimeout"),
                        format!(
                            "volume(s) not detached after {} s: {}",
                            timeout.as_secs(),
                            ids.join(", ")
                        ),
                    ));
                }
                let found = self.describe_volumes_by_id(ids).await?;
                if let Some(gone) = ids.iter().find(|id| !found.iter().any(|v| &v.id == *id)) {
                    return Err(CloudError::new(
                        "wait",
                        Some("InvalidVolume.NotFound"),
                        format!("volume {gone} no longer exists"),
                    ));
                }
                if found
                    .iter()
                    .all(|v| v.state == "available" && v.attachments.is_empty())
                {
                    return Ok(());
                }
            }
        }
    }
}
