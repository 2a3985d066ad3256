//! AWS partitions: ARNs and global services differ between the commercial regions, China and
//! GovCloud, and a tool that writes `arn:aws:` everywhere is wrong in two of them.

/// The partition of a region: `aws`, `aws-cn` (`cn-…`) or `aws-us-gov` (`us-gov-…`).
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The region where a partition's global services (IAM, CloudFront, Route 53, and their tags in
/// the tagging API) answer: `us-east-1`, `cn-northwest-1` or `us-gov-west-1`.
pub fn home_region(region: &str) -> &'static str {
    match partition(region) {
        "aws-cn" => "cn-northwest-1",
        "aws-us-gov" => "us-gov-west-1",
        _ => "us-east-1",
    }
}

/// `arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE`, the partition taken from `region`. Global
/// resources leave `region_in_arn` (and often `account`) empty; the partition still comes from
/// the region the call went to.
pub fn arn(
    region: &str,
    service: &str,
    region_in_arn: &str,
    account: &str,
    resource: &str,
) -> String {
    format!(
        "arn:{}:{service}:{region_in_arn}:{account}:{resource}",
        partition(region)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_and_govcloud_have_their_own_partition_and_home() {
        assert_eq!(partition("eu-west-1"), "aws");
        assert_eq!(partition("cn-north-1"), "aws-cn");
        assert_eq!(partition("us-gov-east-1"), "aws-us-gov");
        assert_eq!(home_region("cn-north-1"), "cn-northwest-1");
        assert_eq!(home_region("us-gov-east-1"), "us-gov-west-1");
        assert_eq!(home_region("ap-south-1"), "us-east-1");
        assert_eq!(
            arn("cn-north-1", "s3", "", "", "bucket"),
            "arn:aws-cn:s3:::bucket"
        );
        assert_eq!(
            arn("us-gov-west-1", "sqs", "us-gov-west-1", "1", "q"),
            "arn:aws-us-gov:sqs:us-gov-west-1:1:q"
        );
    }
}
