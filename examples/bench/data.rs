//! The benchmark's data: the 6-column sales shape (id bigint, region text of
//! 8 values, status text of 3 values, amount double, qty bigint, ts
//! timestamp), generated deterministically as CSV, and its Arrow size as
//! Polars holds it in memory.

use std::io::Write;
use std::path::Path;

use polars::prelude::*;

const REGIONS: [&str; 8] = ["north", "south", "east", "west", "central", "alpine", "coast", "delta"];
const STATUSES: [&str; 3] = ["completed", "open", "cancelled"];

/// xorshift64*: the same rows on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Write `rows` sales rows (with a header) to `path`.
pub fn write_csv(path: &Path, rows: usize) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "id,region,status,amount,qty,ts")?;
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for id in 0..rows {
        let cents = rng.below(100_000);
        writeln!(
            f,
            "{id},{},{},{}.{:02},{},2024-{:02}-{:02} {:02}:{:02}:00",
            REGIONS[rng.below(8) as usize],
            STATUSES[rng.below(3) as usize],
            cents / 100,
            cents % 100,
            1 + rng.below(20),
            1 + rng.below(12),
            1 + rng.below(28),
            rng.below(24),
            rng.below(60),
        )?;
    }
    f.flush()
}

/// The data's size in memory as Polars (Arrow) holds it: the CSV read with
/// redsql's column types, `estimated_size` of the frame.
pub fn arrow_bytes(path: &Path) -> PolarsResult<usize> {
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))?
        .finish()?;
    let df = df
        .lazy()
        .with_column(col("ts").str().to_datetime(
            Some(TimeUnit::Microseconds),
            None,
            StrptimeOptions {
                format: Some("%Y-%m-%d %H:%M:%S".into()),
                ..Default::default()
            },
            lit("raise"),
        ))
        .collect()?;
    Ok(df.estimated_size())
}

/// Copy the rows of `csv` into database 1 under the names redis-benchmark's
/// `sale:__rand_int__` reads (`sale:000000000017`), as redsql stores them,
/// so its HGETALL baselines read the same hashes (every key exists).
pub fn copy_for_redis_benchmark(url: &str, csv: &Path) -> redis::RedisResult<()> {
    let mut conn = redis::Client::open(format!("{url}/1"))?.get_connection()?;
    redis::cmd("FLUSHDB").query::<()>(&mut conn)?;
    let text = std::fs::read_to_string(csv)?;
    let mut lines = text.lines();
    let names: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let mut pipe = redis::pipe();
    let mut queued = 0;
    for (i, line) in lines.enumerate() {
        let values = line.split(',').map(|v| v.replacen(' ', "T", 1));
        let fields: Vec<(&str, String)> = names.iter().copied().zip(values).collect();
        pipe.hset_multiple(format!("sale:{i:012}"), &fields).ignore();
        queued += 1;
        if queued == 10_000 {
            pipe.query::<()>(&mut conn)?;
            pipe = redis::pipe();
            queued = 0;
        }
    }
    if queued > 0 {
        pipe.query::<()>(&mut conn)?;
    }
    Ok(())
}

/// A PostgreSQL `CREATE TABLE` for the shape, keyed by id.
pub const CREATE_TABLE: &str = "CREATE TABLE sale (id bigint PRIMARY KEY, region text, status text, \
     amount double precision, qty bigint, ts timestamp)";

/// The HSET redis-benchmark sends as the load limit: the same hash shape.
pub fn hset_args() -> Vec<String> {
    "HSET sale:__rand_int__ id 17 region north status completed amount 123.45 qty 7 ts 2024-01-01T10:00:00"
        .split(' ')
        .map(String::from)
        .collect()
}
