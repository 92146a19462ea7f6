//! `latency.hlog`: an HdrHistogram interval log (V2 deflate) of end-to-end latency, one interval per second of
//! scenario time that had completions, streamed as each second closes. Windowed gate thresholds merge these.
//!
//! The intervals are encoded here from the second's samples rather than by the crate's `V2DeflateSerializer`,
//! which walks and zeroes the whole counts array (tens of thousands of slots at microsecond resolution) and builds
//! a fresh compressor for every interval: that made the log cost a third of a simulated run. The bytes are the
//! same V2 format (a test checks them against the crate's own serializer); reading uses the crate throughout.

use crate::record::MAX_US;
use base64::Engine as _;
use flate2::{Compress, Compression, FlushCompress, Status};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, IntervalLogWriterBuilder, LogEntry};
use hdrhistogram::serialization::{Deserializer, V2Serializer};
use hdrhistogram::Histogram;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::UNIX_EPOCH;

/// The recorder's histograms: lowest 1 us, highest `MAX_US`, 3 significant digits, so 2048 sub-buckets.
const SIGNIFICANT_DIGITS: u32 = 3;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = 10;
const SUB_BUCKET_MASK: u64 = 2047;
const LEADING_ZERO_COUNT_BASE: u32 = 53;
/// `V2_COOKIE` and `V2_COMPRESSED_COOKIE` of the hdrhistogram crate (word size 8).
const V2_COOKIE: u32 = 0x1c84_9313;
const V2_COMPRESSED_COOKIE: u32 = 0x1c84_9314;

/// Streams one interval per second; holds one second's samples and reusable buffers, nothing that grows with the run.
pub struct HlogWriter {
    out: BufWriter<std::fs::File>,
    samples: Vec<u64>,
    plain: Vec<u8>,
    packed: Vec<u8>,
    text: String,
    zlib: Compress,
}

impl HlogWriter {
    pub fn create(path: &Path) -> std::io::Result<HlogWriter> {
        let mut out = BufWriter::new(std::fs::File::create(path)?);
        IntervalLogWriterBuilder::new()
            .add_comment("loadtest end-to-end latency (from intended publish time), microseconds")
            .add_comment("one interval per second of scenario time with completions; timestamps are scenario seconds")
            .with_base_time(UNIX_EPOCH)
            .begin_log_with(&mut out, &mut V2Serializer::new())?;
        writeln!(out, "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\"")?;
        Ok(HlogWriter {
            out,
            samples: Vec::new(),
            plain: Vec::new(),
            packed: Vec::new(),
            text: String::new(),
            zlib: Compress::new(Compression::fast(), true),
        })
    }

    /// One completion's latency in microseconds, in the current second.
    #[inline]
    pub fn record(&mut self, us: u64) {
        self.samples.push(us.clamp(1, MAX_US));
    }

    /// Writes the current second (if it had completions) as the interval starting at `sec`, and starts the next.
    pub fn close_second(&mut self, sec: u64) -> std::io::Result<()> {
        if self.samples.is_empty() {
            return Ok(());
        }
        self.samples.sort_unstable();
        let max = highest_equivalent(self.samples[self.samples.len() - 1]);
        encode_v2(&self.samples, &mut self.plain);
        self.samples.clear();
        self.zlib.reset();
        self.packed.clear();
        self.packed.extend_from_slice(&V2_COMPRESSED_COOKIE.to_be_bytes());
        self.packed.extend_from_slice(&[0; 4]);
        self.packed.reserve(self.plain.len() + 64);
        while self.zlib.compress_vec(
            &self.plain[self.zlib.total_in() as usize..],
            &mut self.packed,
            FlushCompress::Finish,
        )? != Status::StreamEnd
        {
            self.packed.reserve(self.packed.capacity());
        }
        let len = (self.packed.len() - 8) as u32;
        self.packed[4..8].copy_from_slice(&len.to_be_bytes());
        self.text.clear();
        base64::engine::general_purpose::STANDARD.encode_string(&self.packed, &mut self.text);
        // The line format of the crate's `IntervalLogWriter` (and the Java HistogramLogWriter).
        writeln!(self.out, "{sec}.000,1.000,{max}.000,{}", self.text)
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The counts-array slot of a value (HdrHistogram's `index_for` for this configuration).
fn index_for(v: u64) -> usize {
    let bucket = LEADING_ZERO_COUNT_BASE - (v | SUB_BUCKET_MASK).leading_zeros();
    let sub_bucket = v >> bucket;
    (((bucket as u64 + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE) + sub_bucket - (1 << SUB_BUCKET_HALF_COUNT_MAGNITUDE))
        as usize
}

/// The highest value that lands in the same slot as `v` (what `Histogram::max` reports).
pub(super) fn highest_equivalent(v: u64) -> u64 {
    let bucket = LEADING_ZERO_COUNT_BASE - (v | SUB_BUCKET_MASK).leading_zeros();
    ((v >> bucket) << bucket) + (1 << bucket) - 1
}

/// The V2 encoding of a histogram holding `sorted` (ascending): header, then the counts up to the max's slot as
/// zig-zag LEB128 varints, runs of empty slots written as one negative number.
fn encode_v2(sorted: &[u64], out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&V2_COOKIE.to_be_bytes());
    out.extend_from_slice(&[0; 4]); // payload length, filled in below
    out.extend_from_slice(&0u32.to_be_bytes()); // normalizing index offset
    out.extend_from_slice(&SIGNIFICANT_DIGITS.to_be_bytes());
    out.extend_from_slice(&1u64.to_be_bytes()); // lowest discernible value
    out.extend_from_slice(&MAX_US.to_be_bytes());
    out.extend_from_slice(&1.0f64.to_be_bytes()); // integer to double conversion ratio
    let header = out.len();
    let mut next = 0usize; // first slot not yet written
    let mut i = 0;
    while i < sorted.len() {
        let slot = index_for(sorted[i]);
        let mut count = 0i64;
        while i < sorted.len() && index_for(sorted[i]) == slot {
            count += 1;
            i += 1;
        }
        match slot - next {
            0 => {}
            1 => varint(0, out),
            zeros => varint(zig_zag(-(zeros as i64)), out),
        }
        varint(zig_zag(count), out);
        next = slot + 1;
    }
    let len = (out.len() - header) as u32;
    out[4..8].copy_from_slice(&len.to_be_bytes());
}

fn zig_zag(n: i64) -> u64 {
    ((n << 1) ^ (n >> 63)) as u64
}

/// LEB128-64b9B: 7 bits per byte for the first 8 bytes, then the last byte whole.
fn varint(mut v: u64, out: &mut Vec<u8>) {
    for _ in 0..8 {
        if v < 0x80 {
            out.push(v as u8);
            return;
        }
        out.push(0x80 | (v & 0x7f) as u8);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a `latency.hlog`, calling `f(start second, histogram)` for each interval in file order.
pub fn for_each_interval(path: &Path, mut f: impl FnMut(u64, &Histogram<u64>)) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let bad = |what: String| format!("{} is not a loadtest latency log: {what}", path.display());
    let mut decoder = Deserializer::new();
    let mut compressed = Vec::new();
    for entry in IntervalLogIterator::new(&bytes) {
        let LogEntry::Interval(iv) = entry.map_err(|e| bad(format!("{e:?}")))? else { continue };
        compressed.clear();
        base64::engine::general_purpose::STANDARD
            .decode_vec(iv.encoded_histogram(), &mut compressed)
            .map_err(|e| bad(format!("interval at {:?}: {e}", iv.start_timestamp())))?;
        let h: Histogram<u64> = decoder
            .deserialize(&mut compressed.as_slice())
            .map_err(|e| bad(format!("interval at {:?}: {e:?}", iv.start_timestamp())))?;
        f(iv.start_timestamp().as_secs(), &h);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::Serializer;

    fn samples() -> Vec<Vec<u64>> {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let spread: Vec<u64> = (0..2000).map(|_| 1 + next() % (1 << (next() % 42))).collect();
        vec![vec![1, 250, 999_999], vec![42; 1000], vec![2047, 2048, 2049, 4095, 4096], vec![MAX_US], spread]
    }

    #[test]
    fn the_v2_encoding_is_the_crates_byte_for_byte() {
        for values in samples() {
            let mut h = crate::record::new_histogram();
            let mut sorted = values.clone();
            sorted.sort_unstable();
            for &v in &values {
                h.record(v).unwrap();
            }
            let (mut ours, mut theirs) = (Vec::new(), Vec::new());
            encode_v2(&sorted, &mut ours);
            V2Serializer::new().serialize(&h, &mut theirs).unwrap();
            assert_eq!(ours, theirs, "values {:?}..", &values[..values.len().min(5)]);
            assert_eq!(highest_equivalent(sorted[sorted.len() - 1]), h.max());
        }
    }

    #[test]
    fn intervals_read_back_through_the_crate_as_recorded() {
        let dir = tempfile::TempDir::new().unwrap();
        let path = dir.path().join("latency.hlog");
        let mut w = HlogWriter::create(&path).unwrap();
        let mut written = Vec::new();
        for (i, values) in samples().into_iter().enumerate() {
            let sec = 3 * i as u64;
            let mut h = crate::record::new_histogram();
            for v in values {
                h.record(v).unwrap();
                w.record(v);
            }
            w.close_second(sec).unwrap();
            w.close_second(sec + 1).unwrap(); // a second without completions writes nothing
            written.push((sec, h));
        }
        w.flush().unwrap();
        let mut read = Vec::new();
        for_each_interval(&path, |sec, h| read.push((sec, h.clone()))).unwrap();
        assert_eq!(read, written);
        // Lines as the crate's writer formats them: start, length, max (the slot's highest value), histogram.
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.lines().any(|l| l.starts_with("3.000,1.000,42.000,HIST")), "{text}");
    }
}
