//! `docdb:cluster`: DocumentDB clusters, which the RDS API lists with engine `docdb`
//! (`DescribeDBClusters`, paginated).

use super::{collector, CollectError, Cx};

collector!("docdb:cluster", regional, collect);

async fn collect(cx: Cx) -> Result<u64, CollectError> {
    super::rds_db_cluster::clusters(cx, &C, |engine| engine == "docdb").await
}
