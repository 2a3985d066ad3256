//! The SSM parameter that holds a deployment's lease (see `gm_engine::lease`): AWS keeps it, so
//! every run sees it, whichever machine or state file it uses. This module only stores and
//! reads the value; what it means is the engine's business.

use aws_sdk_ssm::types::{ParameterTier, ParameterType, Tag as SsmTag};

use crate::gone_is_ok;
use crate::{Cloud, CloudError, ErrorKind};

/// Where leases live: outside `/geusemaker/DEPLOYMENT/`, so no describe of a deployment's
/// secrets lists it and no instance role (granted `parameter/geusemaker/DEPLOYMENT/*`) can
/// read or change it.
pub const LEASE_PREFIX: &str = "/geusemaker-lock/";

/// The lease parameter of `deployment`.
pub fn lease_parameter(deployment: &str) -> String {
    format!("{LEASE_PREFIX}{deployment}")
}

impl Cloud {
    /// Creates the lease parameter holding `value` if no lease exists: one `PutParameter`
    /// without overwrite, which AWS performs atomically. Returns false when one exists
    /// (whoever holds it, this very call included when its first answer was lost and the SDK
    /// retried: compare the value with [`Cloud::read_lease`]).
    pub async fn create_lease(&self, deployment: &str, value: &str) -> Result<bool, CloudError> {
        match self.put_lease(deployment, value, false).await {
            Ok(()) => Ok(true),
            Err(e) if e.code.as_deref() == Some("ParameterAlreadyExists") => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replaces the lease's value (a renewal by its holder).
    pub async fn write_lease(&self, deployment: &str, value: &str) -> Result<(), CloudError> {
        self.put_lease(deployment, value, true).await
    }

    /// One `PutParameter` of the lease. Tags go with the creation only: SSM refuses tags on an
    /// overwrite.
    async fn put_lease(
        &self,
        deployment: &str,
        value: &str,
        overwrite: bool,
    ) -> Result<(), CloudError> {
        let name = lease_parameter(deployment);
        let mut call = self
            .ssm
            .put_parameter()
            .name(&name)
            .value(value)
            .r#type(ParameterType::String)
            .overwrite(overwrite);
        if !overwrite {
            call = call
                .tier(ParameterTier::Standard)
                .description("GeuseMaker: the run changing this deployment now")
                .tags(
                    SsmTag::builder()
                        .key("geusemaker:lease")
                        .value(deployment)
                        .build()
                        .map_err(|e| CloudError::new("PutParameter", None, e.to_string()))?,
                );
        }
        self.mutate_unit("PutParameter", std::slice::from_ref(&name), call.send())
            .await
    }

    /// The lease's value, or `None` when no run holds one.
    pub async fn read_lease(&self, deployment: &str) -> Result<Option<String>, CloudError> {
        let out = self
            .ssm
            .get_parameter()
            .name(lease_parameter(deployment))
            .send()
            .await
            .map_err(|e| CloudError::from_sdk("GetParameter", e));
        match out {
            Ok(o) => Ok(o.parameter().and_then(|p| p.value()).map(str::to_string)),
            Err(e) if e.kind == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Removes the lease; one already gone is fine.
    pub async fn delete_lease(&self, deployment: &str) -> Result<(), CloudError> {
        let name = lease_parameter(deployment);
        let call = self.ssm.delete_parameter().name(&name);
        gone_is_ok(
            self.mutate_unit("DeleteParameter", std::slice::from_ref(&name), call.send())
                .await,
        )
    }
}
