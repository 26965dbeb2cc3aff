//! Running caps for long-lived command components (the agent): a CPU share, a send bandwidth and
//! accounting of what the guest used.
//!
//! - **CPU**: the process's CPU clock (`CLOCK_PROCESS_CPUTIME_ID`: the guest and everything the
//!   host does for it: file reads, HTTP, the epoch ticker) may run ahead of `share × wall time`
//!   by at most a small burst. The store's epoch deadline is one tick; at every tick the callback
//!   checks the budget and, when it is spent, suspends the guest (an async sleep: no thread is
//!   held) until the budget has caught up. The guest slows down; it is never killed for it.
//! - **Bandwidth**: outgoing wasi:http request bodies pass through a token bucket
//!   ([`TokenBucket`]): a body frame leaves only once the bucket allows it, so the guest's write
//!   blocks when it sends faster than the cap (backpressure) and the bytes on the wire stay under
//!   `rate × t + burst`.
//! - **Memory**: the store's [`StoreLimits`] cap (a `memory.grow` past it fails inside the guest)
//!   with the peak and the refused growths recorded.
//!
//! [`Meter`] holds the counters; the caller can read it while the guest runs (a stats file).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use serde::Serialize;
use wasmtime::{ResourceLimiter, StoreLimits};
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// What a capped run may use beyond [`crate::Limits`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Caps {
    /// Cores (0.2 = a fifth of one core), measured on the process's CPU clock.
    pub cpu_share: Option<f64>,
    /// Bytes per second of outgoing HTTP request bodies.
    pub send_bytes_per_sec: Option<u64>,
    /// Where outgoing HTTP may go when the run is not given the network (`CommandRun::network`);
    /// the default allows nothing.
    pub outbound: crate::OutboundHosts,
}

/// The process's CPU time so far (user + system, all threads).
pub fn process_cpu_time() -> Duration {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    Duration::new(now.tv_sec.max(0) as u64, now.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// A CPU share: over any run, CPU used ≤ `share × elapsed + burst`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuBudget {
    pub share: f64,
    pub burst: Duration,
}

impl CpuBudget {
    /// A share of one core with a burst of a quarter second's worth (at least 10 ms).
    pub fn new(share: f64) -> CpuBudget {
        let burst = Duration::from_secs_f64(share * 0.25).max(Duration::from_millis(10));
        CpuBudget { share, burst }
    }

    /// How long the guest must wait, having used `used` CPU in `elapsed` wall time, before the
    /// budget allows it to run again (`None`: it may run now).
    pub fn wait(&self, used: Duration, elapsed: Duration) -> Option<Duration> {
        let allowed = elapsed.as_secs_f64() * self.share + self.burst.as_secs_f64();
        let over = used.as_secs_f64() - allowed;
        (over > 0.0).then(|| Duration::from_secs_f64(over / self.share))
    }
}

/// A token bucket in bytes, allowed to go into debt: [`TokenBucket::take`] always takes and says
/// how long to wait before the bytes may leave, so bytes released by time t ≤ `rate × t + capacity`.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: f64,
    capacity: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// `rate` bytes per second; the bucket holds at most a tenth of a second's worth (≥ 16 KiB),
    /// and starts full.
    pub fn new(rate: u64, now: Instant) -> TokenBucket {
        let rate = rate.max(1) as f64;
        let capacity = (rate / 10.0).max(16.0 * 1024.0);
        TokenBucket { rate, capacity, tokens: capacity, last: now }
    }

    /// Takes `bytes`; returns how long from `now` the caller must wait before sending them.
    pub fn take(&mut self, bytes: u64, now: Instant) -> Duration {
        let refill = now.saturating_duration_since(self.last).as_secs_f64() * self.rate;
        self.last = self.last.max(now);
        self.tokens = (self.tokens + refill).min(self.capacity) - bytes as f64;
        if self.tokens >= 0.0 { Duration::ZERO } else { Duration::from_secs_f64(-self.tokens / self.rate) }
    }
}

/// Counters of a run, readable while it goes on.
#[derive(Debug)]
pub struct Meter {
    started: Instant,
    cpu_at_start: Duration,
    peak_memory: AtomicU64,
    memory_denied: AtomicU64,
    cpu_throttled_ns: AtomicU64,
    cpu_throttles: AtomicU64,
    http_body_bytes: AtomicU64,
    http_requests: AtomicU64,
    http_refused: AtomicU64,
    send_wait_ns: AtomicU64,
}

/// A snapshot of a [`Meter`] (the JSON the agent host prints and writes to its stats file).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub wall_seconds: f64,
    /// The process's CPU time since the run started (guest and host).
    pub cpu_seconds: f64,
    /// `cpu_seconds / wall_seconds`.
    pub cpu_share: f64,
    /// The largest linear memory the guest was granted.
    pub peak_memory_bytes: u64,
    /// `memory.grow` calls refused by the memory cap.
    pub memory_denied: u64,
    /// Time the guest spent suspended by the CPU cap.
    pub cpu_throttled_seconds: f64,
    pub cpu_throttles: u64,
    /// Bytes of outgoing HTTP request bodies that left the host.
    pub http_body_bytes_sent: u64,
    pub http_requests: u64,
    /// Requests to an address other than the granted one.
    pub http_refused: u64,
    /// Time request bodies waited for the bandwidth cap.
    pub send_wait_seconds: f64,
}

impl Default for Meter {
    fn default() -> Self {
        Meter::new()
    }
}

impl Meter {
    /// Starts the clocks now.
    pub fn new() -> Meter {
        Meter {
            started: Instant::now(),
            cpu_at_start: process_cpu_time(),
            peak_memory: AtomicU64::new(0),
            memory_denied: AtomicU64::new(0),
            cpu_throttled_ns: AtomicU64::new(0),
            cpu_throttles: AtomicU64::new(0),
            http_body_bytes: AtomicU64::new(0),
            http_requests: AtomicU64::new(0),
            http_refused: AtomicU64::new(0),
            send_wait_ns: AtomicU64::new(0),
        }
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    pub fn cpu_used(&self) -> Duration {
        process_cpu_time().saturating_sub(self.cpu_at_start)
    }

    pub fn usage(&self) -> Usage {
        let wall = self.elapsed().as_secs_f64();
        let cpu = self.cpu_used().as_secs_f64();
        let seconds = |counter: &AtomicU64| counter.load(Ordering::Relaxed) as f64 / 1e9;
        Usage {
            wall_seconds: wall,
            cpu_seconds: cpu,
            cpu_share: if wall > 0.0 { cpu / wall } else { 0.0 },
            peak_memory_bytes: self.peak_memory.load(Ordering::Relaxed),
            memory_denied: self.memory_denied.load(Ordering::Relaxed),
            cpu_throttled_seconds: seconds(&self.cpu_throttled_ns),
            cpu_throttles: self.cpu_throttles.load(Ordering::Relaxed),
            http_body_bytes_sent: self.http_body_bytes.load(Ordering::Relaxed),
            http_requests: self.http_requests.load(Ordering::Relaxed),
            http_refused: self.http_refused.load(Ordering::Relaxed),
            send_wait_seconds: seconds(&self.send_wait_ns),
        }
    }

    /// Called by the epoch callback: the wait the CPU budget imposes now, recorded as throttling.
    pub(crate) fn cpu_wait(&self, budget: &CpuBudget) -> Option<Duration> {
        let wait = budget.wait(self.cpu_used(), self.elapsed())?;
        self.cpu_throttles.fetch_add(1, Ordering::Relaxed);
        self.cpu_throttled_ns.fetch_add(wait.as_nanos() as u64, Ordering::Relaxed);
        Some(wait)
    }
}

/// The store's memory limiter: [`StoreLimits`] plus the peak and refusals, into a [`Meter`].
pub(crate) struct Limiter {
    pub(crate) limits: StoreLimits,
    pub(crate) meter: Option<Arc<Meter>>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        let granted = self.limits.memory_growing(current, desired, maximum)?;
        if let Some(meter) = &self.meter {
            if granted {
                meter.peak_memory.fetch_max(desired as u64, Ordering::Relaxed);
            } else {
                meter.memory_denied.fetch_add(1, Ordering::Relaxed);
            }
        }
        Ok(granted)
    }

    fn table_growing(&mut self, current: usize, desired: usize, maximum: Option<usize>) -> wasmtime::Result<bool> {
        self.limits.table_growing(current, desired, maximum)
    }

    fn instances(&self) -> usize {
        self.limits.instances()
    }

    fn tables(&self) -> usize {
        self.limits.tables()
    }

    fn memories(&self) -> usize {
        self.limits.memories()
    }
}

/// The wasi:http hooks of a capped run: the outbound check, the byte count and the bandwidth cap
/// on request bodies.
pub(crate) struct CappedHttp {
    pub(crate) meter: Arc<Meter>,
    pub(crate) bucket: Option<Arc<Mutex<TokenBucket>>>,
    pub(crate) outbound: crate::OutboundHosts,
    pub(crate) client: crate::client::Client,
}

impl WasiHttpHooks for CappedHttp {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> crate::client::SendFuture {
        drop(fut);
        let meter = self.meter.clone();
        if !self.outbound.allows_uri(request.uri()) {
            tracing::warn!(uri = %request.uri(), "outgoing request denied: not an allowed host");
            meter.http_refused.fetch_add(1, Ordering::Relaxed);
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        meter.http_requests.fetch_add(1, Ordering::Relaxed);
        let bucket = self.bucket.clone();
        let request =
            request.map(|body| Capped { inner: body, meter: meter.clone(), bucket, held: None }.boxed_unsync());
        let client = self.client.clone();
        Box::new(async move { client.send(request, options).await })
    }
}

/// A request body whose data frames leave no faster than the token bucket allows.
struct Capped {
    inner: WasiBody,
    meter: Arc<Meter>,
    bucket: Option<Arc<Mutex<TokenBucket>>>,
    /// A frame waiting for its turn.
    held: Option<(Frame<Bytes>, Pin<Box<tokio::time::Sleep>>)>,
}

impl Body for Capped {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, HttpError>>> {
        let this = &mut *self;
        if let Some((_, sleep)) = &mut this.held {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let (frame, _) = this.held.take().expect("held");
            return Poll::Ready(Some(Ok(this.release(frame))));
        }
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            other => return other,
        };
        let bytes = frame.data_ref().map_or(0, |data| data.len() as u64);
        let wait = match &this.bucket {
            Some(bucket) if bytes > 0 => bucket.lock().expect("bucket").take(bytes, Instant::now()),
            _ => Duration::ZERO,
        };
        if wait.is_zero() {
            return Poll::Ready(Some(Ok(this.release(frame))));
        }
        this.meter.send_wait_ns.fetch_add(wait.as_nanos() as u64, Ordering::Relaxed);
        let mut sleep = Box::pin(tokio::time::sleep(wait));
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Ok(this.release(frame))));
        }
        this.held = Some((frame, sleep));
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.held.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Capped {
    fn release(&self, frame: Frame<Bytes>) -> Frame<Bytes> {
        if let Some(data) = frame.data_ref() {
            self.meter.http_body_bytes.fetch_add(data.len() as u64, Ordering::Relaxed);
        }
        frame
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_budget_allows_the_share_plus_the_burst_and_no_more() {
        let budget = CpuBudget { share: 0.2, burst: Duration::from_millis(50) };
        // 10 s at 0.2 allow 2 s (+ 50 ms burst).
        assert_eq!(budget.wait(Duration::from_millis(2000), Duration::from_secs(10)), None);
        assert_eq!(budget.wait(Duration::from_millis(2050), Duration::from_secs(10)), None);
        // 100 ms over: 0.5 s of wall time at 0.2 pays it back.
        let wait = budget.wait(Duration::from_millis(2150), Duration::from_secs(10)).unwrap();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-9, "{wait:?}");
        // After that wait the budget allows running again.
        assert_eq!(budget.wait(Duration::from_millis(2150), Duration::from_secs(10) + wait), None);
        // A guest that runs flat out from the start is stopped after the burst.
        assert!(budget.wait(Duration::from_millis(80), Duration::from_millis(80)).is_some());
        assert_eq!(CpuBudget::new(0.2).burst, Duration::from_millis(50));
    }

    #[test]
    fn token_bucket_keeps_the_rate_after_its_burst() {
        let start = Instant::now();
        let mut bucket = TokenBucket::new(100_000, start);
        // The full bucket (16 KiB: a tenth of 100 kB/s is less) goes at once.
        assert_eq!(bucket.take(16 * 1024, start), Duration::ZERO);
        // The next 50 kB wait half a second.
        let wait = bucket.take(50_000, start);
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Sending 1 MB in 4 KiB frames, waiting as told: it takes ~10 s of bucket time.
        let mut now = start + wait;
        let mut sent = 0u64;
        while sent < 1_000_000 {
            now += bucket.take(4096, now);
            sent += 4096;
        }
        let seconds = (now - start).as_secs_f64();
        let rate = (sent + 50_000 + 16 * 1024) as f64 / seconds;
        assert!(rate <= 100_000.0 * 1.02 + 16.0 * 1024.0 / seconds, "{rate} B/s over {seconds} s");
        assert!(rate >= 95_000.0, "{rate} B/s: the bucket should not be slower than its rate");
        // Idle time refills at most the capacity.
        let later = now + Duration::from_secs(60);
        assert_eq!(bucket.take(16 * 1024, later), Duration::ZERO);
        assert!(bucket.take(1, later) > Duration::ZERO);
    }
}
