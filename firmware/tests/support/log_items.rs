//! The event log's items as they lie in a flash image, for tests that edit the image by hand
//! the way an attacker with the flash chip would: find a record, alter it and fix its CRC,
//! or mark it erased. Shared by the firmware's log tests and the end-to-end ones.
#![allow(dead_code)]

use latchkey_firmware::log::TAG_LEN;
use latchkey_firmware::region::layout;
use latchkey_protocol::LogRecord;

/// The event-log region's byte range in a flash image.
pub const LOG: std::ops::Range<usize> =
    layout::EVENT_LOG.start as usize..layout::EVENT_LOG.end as usize;
/// A flash page.
pub const PAGE: usize = layout::PAGE_SIZE as usize;

/// One item of the queue in flash.
#[derive(Debug, Clone)]
pub struct RawItem {
    /// Where its 8-byte header starts.
    pub address: usize,
    /// Its data: the record, then the chain tag.
    pub data: Vec<u8>,
    /// The record, if the data decodes as one.
    pub record: Option<LogRecord>,
}

/// Walks the items of every page of the region (sequential-storage's layout: a marker word at
/// each end of a page; items of an 8-byte header — CRC-32 of the data, length, CRC-16 of the
/// length — and the data padded to a word). Returns the items in flash order (not queue order).
pub fn raw_items(bytes: &[u8]) -> Vec<RawItem> {
    let mut items = Vec::new();
    for page in LOG.step_by(PAGE) {
        let end = page + PAGE - 4;
        let mut at = page + 4;
        while at + 8 <= end {
            let header = &bytes[at..at + 8];
            if header.iter().all(|&b| b == 0xFF) {
                break;
            }
            let len = u16::from_le_bytes([header[4], header[5]]) as usize;
            let data_end = at + 8 + len.next_multiple_of(4);
            if data_end > end {
                break;
            }
            let data = bytes[at + 8..at + 8 + len].to_vec();
            let record = data
                .len()
                .checked_sub(TAG_LEN)
                .and_then(|n| postcard::from_bytes::<LogRecord>(&data[..n]).ok());
            items.push(RawItem { address: at, data, record });
            at = data_end;
        }
    }
    items
}

pub fn raw_item_of(bytes: &[u8], seq: u32) -> RawItem {
    raw_items(bytes).into_iter().find(|i| i.record.is_some_and(|r| r.seq == seq)).unwrap()
}

/// sequential-storage's item CRC (CRC-32C with a modified start, never 0, first byte never
/// 0x00 or 0xFF), so a test can alter an item and make its CRC match again.
pub fn item_crc(data: &[u8]) -> u32 {
    let mut crc = 0xEEEE_EEEEu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let low = crc & 1 > 0;
            crc >>= 1;
            if low {
                crc ^= 0x82f6_3b78;
            }
        }
    }
    match !crc {
        0 => 1,
        value if value.to_le_bytes()[0] == 0 || value.to_le_bytes()[0] == 0xFF => value ^ 1,
        value => value,
    }
}

/// Rewrites an item's data in place with a matching CRC (same length).
pub fn rewrite_item(bytes: &mut [u8], item: &RawItem, data: &[u8]) {
    assert_eq!(data.len(), item.data.len());
    bytes[item.address..item.address + 4].copy_from_slice(&item_crc(data).to_le_bytes());
    bytes[item.address + 8..item.address + 8 + data.len()].copy_from_slice(data);
}
