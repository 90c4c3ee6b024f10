//! Keyset pages (api.md §0.5): newest first by `(created_at, id)`, one row more than asked for tells
//! whether another page follows.

use serde::Serialize;
use tenantry_domain::Cursor;
use time::OffsetDateTime;
use uuid::Uuid;

/// Where a page starts and how long it is (1..=100, validated by the caller).
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<Cursor>,
    pub limit: i64,
}

impl PageRequest {
    /// The keyset to continue after, as the store queries take it.
    pub fn after(&self) -> Option<(OffsetDateTime, Uuid)> {
        self.after.map(|c| (c.created_at, c.id))
    }

    /// Rows to fetch: one more than the page, to learn whether another follows.
    pub fn fetch(&self) -> i64 {
        self.limit + 1
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
    pub has_more: bool,
}

impl<T> Page<T> {
    /// Builds a page from up to `limit + 1` rows in keyset order; `key` gives each row's keyset.
    pub fn from_rows<R>(
        mut rows: Vec<R>,
        request: &PageRequest,
        key: impl Fn(&R) -> (OffsetDateTime, Uuid),
        view: impl Fn(&R) -> T,
    ) -> Self {
        let limit = usize::try_from(request.limit).unwrap_or(0);
        let has_more = rows.len() > limit;
        rows.truncate(limit);
        let next_cursor = if has_more {
            rows.last().map(|r| {
                let (at, id) = key(r);
                Cursor::new(at, id).encode()
            })
        } else {
            None
        };
        Self {
            items: rows.iter().map(view).collect(),
            next_cursor,
            has_more,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_extra_row_becomes_the_next_cursor_of_the_last_item_shown() {
        let t = OffsetDateTime::UNIX_EPOCH;
        let rows: Vec<(OffsetDateTime, Uuid)> = (0..3).map(|_| (t, Uuid::now_v7())).collect();
        let req = PageRequest {
            after: None,
            limit: 2,
        };
        let page = Page::from_rows(rows.clone(), &req, |r| *r, |r| r.1);
        assert!(page.has_more);
        assert_eq!(page.items, vec![rows[0].1, rows[1].1]);
        let cursor = Cursor::decode(page.next_cursor.as_deref().unwrap()).unwrap();
        assert_eq!(cursor.id, rows[1].1);
        let last = Page::from_rows(rows[..2].to_vec(), &req, |r| *r, |r| r.1);
        assert!(!last.has_more);
        assert_eq!(last.next_cursor, None);
    }
}
