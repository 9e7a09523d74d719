//! Reads a whole event log through `Store::events_after` and reports how fast it decodes.
//!
//!     cargo run --release -p cspguard-store --example read_log -- sqlite:///path/to/cspguard.db [page]

use std::time::Instant;

// As in the cspguard binary: the allocator matters to decoding, which allocates each event's strings.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: read_log DATABASE_URL [PAGE]")?;
    let page: u32 = args.next().map_or(Ok(16_384), |p| p.parse())?;
    let store = cspguard_store::Store::open(&url).await?;
    let started = Instant::now();
    let (mut after, mut n, mut usage) = (0i64, 0u64, 0u64);
    loop {
        let events = store.events_after(after, page).await?;
        let Some(last) = events.last() else { break };
        after = last.seq;
        n += events.len() as u64;
        usage += events
            .iter()
            .filter(|e| matches!(e.envelope.event, cspguard_domain::Event::Usage(_)))
            .count() as u64;
    }
    let s = started.elapsed().as_secs_f64();
    println!(
        "{n} events ({usage} usage) in {s:.2} s: {:.0} events/s, pages of {page}",
        n as f64 / s
    );
    Ok(())
}
