//! The demo dataset shipped in `demo/sale.csv`: a few thousand `sale:<id>`
//! hashes (id, region, status, amount, qty, ts), loaded by `serve --demo`.

use crate::error::Result;
use crate::store::Store;

pub const SALE_CSV: &str = include_str!("../demo/sale.csv");

/// Load the demo sales into `sale:<id>` hashes unless `sale:` keys exist.
/// Returns the number of rows written.
pub async fn load_demo(store: &Store) -> Result<usize> {
    // The first batch of any sale:<id> key (on every master of a cluster).
    if let Some(batch) = store.scan_table_keys("sale:", "hash").recv().await {
        batch?;
        return Ok(0);
    }
    let mut lines = SALE_CSV.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut written = 0;
    let rows: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    for chunk in rows.chunks(500) {
        let mut pipe = crate::store::Pipe::new();
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
