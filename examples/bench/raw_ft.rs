//! The pushdown baseline: the exact FT.AGGREGATE commands redsql sends for a
//! query (read off its EXPLAIN), sent directly over one kept RESP3
//! connection, every cursor read to the end, no SQL and no wire in between.

use redsql::store::resp3;

/// The FT commands of an EXPLAIN output, each as its arguments.
pub fn commands(explain: &str) -> Vec<Vec<String>> {
    explain
        .lines()
        .filter_map(|l| l.find("FT.AGGREGATE ").map(|i| parse(&l[i..])))
        .collect()
}

/// One command as EXPLAIN prints it: words, or '...' with \' \\ \x1f escapes.
fn parse(line: &str) -> Vec<String> {
    let b: Vec<char> = line.trim().chars().collect();
    let (mut args, mut i) = (Vec::new(), 0);
    while i < b.len() {
        if b[i] == ' ' {
            i += 1;
        } else if b[i] == '\'' {
            let mut word = String::new();
            i += 1;
            while i < b.len() && b[i] != '\'' {
                if b[i] == '\\' && b[i..].starts_with(&['\\', 'x', '1', 'f']) {
                    word.push('\u{1f}');
                    i += 4;
                    continue;
                }
                if b[i] == '\\' {
                    i += 1;
                }
                word.push(b[i]);
                i += 1;
            }
            i += 1;
            args.push(word);
        } else {
            let start = i;
            while i < b.len() && b[i] != ' ' {
                i += 1;
            }
            args.push(b[start..i].iter().collect());
        }
    }
    args
}

/// Run every command with its cursor read to the end; the rows the first
/// one returned (later ones complete the first one's rows).
pub async fn run(conn: &mut resp3::Conn, commands: &[Vec<String>]) -> Result<usize, String> {
    let mut rows = 0;
    for (i, args) in commands.iter().enumerate() {
        let index = args[1].clone();
        let count = args
            .iter()
            .position(|a| a == "WITHCURSOR")
            .and_then(|p| args.get(p + 2))
            .cloned()
            .unwrap_or_else(|| "1000".into());
        let mut reply = conn.call(args).await.map_err(|e| e.to_string())?;
        loop {
            let cursor = {
                let frame = reply.frame();
                if let Some(e) = frame.error() {
                    return Err(String::from_utf8_lossy(e).into_owned());
                }
                let mut parts = frame.elements();
                let page = parts.next().ok_or("empty FT reply")?;
                if i == 0 {
                    rows += page.get("results").map_or(0, |r| r.elements().count());
                }
                parts.next().and_then(|c| c.int()).unwrap_or(0)
            };
            if cursor == 0 {
                break;
            }
            let read = ["FT.CURSOR", "READ", &index, &cursor.to_string(), "COUNT", &count];
            reply = conn.call(&read).await.map_err(|e| e.to_string())?;
        }
    }
    Ok(rows)
}
