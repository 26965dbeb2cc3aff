//! Reading a request body whole, bounded, for the hyper servers (`logport up`, the emulated API
//! Gateway of `logport-lambda-local`).
//!
//! A body over the limit is reported only after the rest of it has been read and discarded (at
//! most `drain` bytes more, none of them kept): a client that writes its whole body before it
//! reads the answer, as the SDKs do, would otherwise see its connection reset ("broken pipe")
//! instead of the 413. A body that declares a length beyond those bounds is refused at once, and
//! the server closes that connection.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use http_body::Body;
use http_body_util::BodyExt;

/// A request body, read.
#[derive(Debug)]
pub enum Bounded<E> {
    Whole(Bytes),
    /// Over the limit; what followed the limit was discarded, up to the drain bound.
    TooLarge,
    /// The transport failed while reading.
    Failed(E),
}

/// Reads `body` whole if it holds at most `limit` bytes; otherwise reads and drops up to `drain`
/// bytes more (or until its end) and reports [`Bounded::TooLarge`].
pub async fn read_bounded<B>(mut body: B, limit: usize, drain: u64) -> Bounded<B::Error>
where
    B: Body + Unpin,
{
    let declared = body.size_hint().exact();
    if declared.is_some_and(|length| length > (limit as u64).saturating_add(drain)) {
        return Bounded::TooLarge;
    }
    let capacity = declared.map_or(0, |length| length.min(limit as u64) as usize);
    let mut collected = BytesMut::with_capacity(capacity);
    while let Some(frame) = body.frame().await {
        let mut data = match frame.map(|frame| frame.into_data()) {
            Err(error) => return Bounded::Failed(error),
            Ok(Err(_trailers)) => continue,
            Ok(Ok(data)) => data,
        };
        let length = data.remaining();
        if collected.len() + length > limit {
            let over = (collected.len() + length - limit) as u64;
            drop(collected);
            discard(body, drain.saturating_sub(over)).await;
            return Bounded::TooLarge;
        }
        collected.put(&mut data);
    }
    Bounded::Whole(collected.freeze())
}

/// Reads and drops up to `budget` bytes of `body`, until its end or an error.
async fn discard<B: Body + Unpin>(mut body: B, mut budget: u64) {
    while let Some(Ok(frame)) = body.frame().await {
        let length = frame.data_ref().map_or(0, |data| data.remaining() as u64);
        match budget.checked_sub(length) {
            Some(left) => budget = left,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http_body_util::{Full, StreamBody};

    use super::*;

    /// A body of `chunks` frames, without a declared length.
    fn chunked(chunks: Vec<&'static [u8]>) -> impl Body<Data = Bytes, Error = Infallible> + Unpin {
        let frames = chunks.into_iter().map(|chunk| Ok(http_body::Frame::data(Bytes::from_static(chunk))));
        StreamBody::new(futures::stream::iter(frames))
    }

    fn read<B: Body + Unpin>(body: B, limit: usize, drain: u64) -> Bounded<B::Error> {
        futures_executor::block_on(read_bounded(body, limit, drain))
    }

    #[test]
    fn a_body_within_the_limit_is_read_whole() {
        match read(Full::new(Bytes::from_static(b"hello")), 5, 0) {
            Bounded::Whole(body) => assert_eq!(&body[..], b"hello"),
            other => panic!("{other:?}"),
        }
        match read(chunked(vec![b"he", b"", b"llo"]), 5, 0) {
            Bounded::Whole(body) => assert_eq!(&body[..], b"hello"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_body_over_the_limit_is_too_large() {
        assert!(matches!(read(Full::new(Bytes::from_static(b"hello!")), 5, 100), Bounded::TooLarge));
        assert!(matches!(read(chunked(vec![b"hel", b"lo!", b"more"]), 5, 100), Bounded::TooLarge));
        // Declared beyond limit + drain: refused without reading.
        assert!(matches!(read(Full::new(Bytes::from(vec![0; 1000])), 5, 100), Bounded::TooLarge));
    }
}
