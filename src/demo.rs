//! The demo dataset shipped in `demo/sale.csv`: a few thousand `sale:<id>`
//! hashes (id, region, status, amount, qty, ts), loaded by `serve --demo`.

use crate::error::Result;
use crate::store::Store;

pub const SALE_CSV: &str = include_str!("../demo/sale.csv");

/// Load the demo sales into `sale:<id>` hashes unless `sale:` keys exist.
/// Returns the number of rows written.
pub async fn load_demo(store: &Store) -> Result<usize> {
    let (_, existing): (u64, Vec<String>) = store
        .query(
            redis::cmd("SCAN")
                .arg(0)
                .arg("MATCH")
                .arg("sale:*")
                .arg("COUNT")
                .arg(10000)
                .arg("TYPE")
                .arg("hash"),
        )
        .await?;
    if !existing.is_empty() {
        return Ok(0);
    }
    let mut lines = SALE_CSV.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut written = 0;
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    for chunk in rows.chunks(500) {
        let mut pipe = redis::pipe();
        for line in chunk {
            let values: Vec<&str> = line.split(',').collect();
            let cmd = pipe.cmd("HSET").arg(format!("sale:{}", values[0]));
            for (h, v) in header.iter().zip(&values) {
                cmd.arg(*h).arg(*v);
            }
            cmd.ignore();
        }
        store.pipeline(&pipe).await?;
        written += chunk.len();
    }
    Ok(written)
}
