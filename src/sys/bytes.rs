//! The storage of [`crate::say`]'s buffers: bytes that are not zeroed when
//! a buffer is made (zeroing each new buffer cost code at every one), of
//! which only the written prefix is ever read.
//!
//! # Safety
//! The one invariant, kept by every method here and nowhere else (the
//! fields are private to this module): `bytes[..len]` have been written and
//! `len <= bytes.len()`. [`Bytes::as_bytes`] reads no more than that.

use core::mem::MaybeUninit;

/// A byte buffer that text is appended to: [`crate::say::Buf`] when its
/// capacity is known (it owns its array), [`crate::say::Text`] when it is
/// not.
pub struct Bytes<B: ?Sized> {
    len: usize,
    overflowed: bool,
    bytes: B,
}

impl<const N: usize> Bytes<[MaybeUninit<u8>; N]> {
    pub const fn new() -> Self {
        Bytes {
            len: 0,
            overflowed: false,
            bytes: [MaybeUninit::uninit(); N],
        }
    }
}

impl<const N: usize> core::ops::Deref for Bytes<[MaybeUninit<u8>; N]> {
    type Target = Bytes<[MaybeUninit<u8>]>;
    fn deref(&self) -> &Self::Target {
        self
    }
}

impl<const N: usize> core::ops::DerefMut for Bytes<[MaybeUninit<u8>; N]> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self
    }
}

impl Bytes<[MaybeUninit<u8>]> {
    #[inline(never)]
    pub fn as_bytes(&self) -> &[u8] {
        let written = self.bytes.get(..self.len).unwrap_or(&[]);
        // SAFETY: `bytes[..len]` have been written (the module's invariant),
        // and `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { &*(written as *const [MaybeUninit<u8>] as *const [u8]) }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes that can still be appended.
    pub fn room(&self) -> usize {
        self.bytes.len().saturating_sub(self.len)
    }

    pub fn overflowed(&self) -> bool {
        self.overflowed
    }

    pub fn clear(&mut self) {
        self.len = 0;
        self.overflowed = false;
    }

    /// Drops the first `n` bytes (those already written out).
    #[inline(never)]
    pub fn consume(&mut self, n: usize) {
        let n = n.min(self.len);
        if let Some(rest) = self.bytes.get_mut(..self.len) {
            rest.copy_within(n.., 0);
        }
        self.len -= n;
    }

    /// Appends bytes; what does not fit is dropped.
    #[inline(never)]
    pub fn s(&mut self, text: &[u8]) -> &mut Self {
        let start = self.len.min(self.bytes.len());
        if let Some(dst) = self.bytes.get_mut(start..) {
            let took = dst.len().min(text.len());
            // SAFETY: `took` bytes fit in both; `text` is borrowed and `dst`
            // borrowed mutably, so they do not overlap; `MaybeUninit<u8>`
            // has the layout of `u8`.
            unsafe {
                core::ptr::copy_nonoverlapping(text.as_ptr(), dst.as_mut_ptr().cast::<u8>(), took)
            };
            self.len = start + took;
            if took < text.len() {
                self.overflowed = true;
            }
        }
        self
    }

    #[inline(never)]
    pub fn byte(&mut self, b: u8) -> &mut Self {
        match self.bytes.get_mut(self.len) {
            Some(slot) => {
                *slot = MaybeUninit::new(b);
                self.len += 1;
            }
            None => self.overflowed = true,
        }
        self
    }
}
